"""The HTTP edge: thin handlers that parse, call one service function and pick a response."""
