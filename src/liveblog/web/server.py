"""Running the app under uvicorn, with streams ended promptly on shutdown."""

from __future__ import annotations

import asyncio
import resource
import signal
import socket
import sys
from types import FrameType

import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOGGING_CONFIG

from liveblog.broadcast.memory import InProcessHub
from liveblog.logs import logging_config
from liveblog.settings import SettingError
from liveblog.web.fastpath import LiveblogHttpProtocol
from liveblog.web.front import FrontProtocol

PROTOCOLS: dict[str, type[asyncio.Protocol]] = {
    "subclass": LiveblogHttpProtocol,
    "composition": FrontProtocol,
}


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
        if sig == signal.SIGTERM:
            # uvicorn re-raises the signal after its graceful shutdown, so the process would
            # die "killed by SIGTERM". A SIGTERM is a process manager's polite "stop", and we
            # stopped cleanly: exit 0, so orchestrators do not log a failure on every deploy.
            self._captured_signals = [s for s in self._captured_signals if s != signal.SIGTERM]


def make_config(
    app: FastAPI, host: str, port: int, log_level: str = "info", log_format: str | None = None
) -> uvicorn.Config:
    """`log_format` ("text" or "json"): our logging for uvicorn's loggers and ours alike;
    None keeps uvicorn's default."""
    log_config = LOGGING_CONFIG if log_format is None else logging_config(log_format, log_level)
    settings = getattr(app.state, "settings", None)
    protocol = PROTOCOLS.get(getattr(settings, "http_protocol", "subclass"))
    if protocol is None:
        raise SettingError("LIVEBLOG_HTTP_PROTOCOL must be 'subclass' or 'composition'")
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        # Applied by uvicorn when the server starts, in every worker process.
        log_config=log_config,
        timeout_graceful_shutdown=5,
        # Our protocol: uvicorn's under the edge's limits, plus the hand-over of stream
        # connections to the hub and pages from memory (as a subclass, or in front of it).
        http=protocol,
        # Every open stream is a connection; uvicorn keeps no cap of its own by default, and
        # the process's file limit is the real ceiling, raised at start where allowed.
        backlog=4096,
        # Which X-Forwarded-* headers to believe is decided by LIVEBLOG_TRUSTED_PROXIES
        # (web/proxies.py), with the client's own address still in hand.
        proxy_headers=False,
    )


def serve(
    app: FastAPI, host: str, port: int, log_level: str = "info", sock: socket.socket | None = None
) -> None:
    """Serve until told to exit; on `sock` if given (a worker of `--workers`), else on host:port."""
    raise_file_limit()
    # Requests run their database work in worker threads while the event loop fans out. With
    # the default 5 ms switch interval a worker waits up to 5 ms for the GIL after every
    # database call whenever a fan-out is running; 1 ms keeps an editor's publish quick.
    sys.setswitchinterval(0.001)
    config = make_config(app, host, port, log_level, app.state.settings.log_format)
    server = LiveblogServer(config, app.state.hub)
    server.run(sockets=[sock] if sock is not None else None)


def raise_file_limit() -> None:
    """Each reader holds a socket: lift the soft open-files limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
