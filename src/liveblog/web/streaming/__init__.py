"""A reader's live stream: one session (session.py) and the writers that carry its bytes.

`StreamSession` is the stream's logic, written once: where it starts (position.py), the answers
that are not a stream (unknown blog, 204 for a caught-up reader of an ended blog, resync for an
unusable position), the replay of what the reader missed paced by its connection, live frames,
and the end (blog ended, reader too slow or stalled, node shutting down). It never touches a
socket or an ASGI message: a writer does (writer.py says what one provides). There are two:
socketwriter.py, the lean path, where the hub writes shared frames straight to the socket, and
asgiwriter.py, the portable path through any ASGI server. The heads both write are in heads.py.
"""
