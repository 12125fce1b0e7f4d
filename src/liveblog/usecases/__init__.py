"""The use cases, one module per concept, composed into one facade (`liveblog.service`).

Every write goes through the write unit in `door.py`; each module types its transaction work
against the narrowest store protocol it needs (`storage/base.py`).
"""
