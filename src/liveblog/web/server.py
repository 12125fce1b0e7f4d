"""Running the app under uvicorn, with streams ended promptly on shutdown."""

from __future__ import annotations

from types import FrameType

import uvicorn
from fastapi import FastAPI

from liveblog.broadcast.memory import InProcessHub


class LiveblogServer(uvicorn.Server):
    """uvicorn waits for open responses before it shuts down, and a stream never ends by
    itself: on the exit signal we end every stream first (with a jittered retry hint), so
    readers reconnect elsewhere and the process exits at once."""

    def __init__(self, config: uvicorn.Config, hub: InProcessHub) -> None:
        super().__init__(config)
        self.hub = hub

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.hub.close_all()
        super().handle_exit(sig, frame)


def serve(app: FastAPI, host: str, port: int, log_level: str = "info") -> None:
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5
    )
    LiveblogServer(config, app.state.hub).run()
