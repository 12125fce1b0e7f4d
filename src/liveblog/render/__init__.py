"""Pure functions that turn domain objects into bytes: HTML, JSON, SSE frames."""
