"""Operations endpoints for load balancers and monitoring: /healthz and /metrics."""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from liveblog import metrics
from liveblog.storage.sql import SqlStore

log = logging.getLogger(__name__)

PING_TIMEOUT = 2.0
NO_STORE = {"cache-control": "no-store"}

router = APIRouter(include_in_schema=False)


class Pinger:
    """Runs the store's ping on a daemon thread, one at a time. Against a hung database every
    check would otherwise leave a blocked thread in the pool that requests and the hub read the
    log with (and a pool thread would hold up the process's exit). Checks that arrive while a
    ping is still out wait for that one."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.inflight: Future[None] | None = None

    def _start(self) -> Future[None]:
        future: Future[None] = Future()
        # Running futures cannot be cancelled: a timed-out wait leaves this ping in flight,
        # so the next check waits for it instead of starting another thread.
        future.set_running_or_notify_cancel()

        def run() -> None:
            try:
                self.store.ping()
            except Exception as exc:
                future.set_exception(exc)
            else:
                future.set_result(None)

        threading.Thread(target=run, name="healthz", daemon=True).start()
        return future

    async def ping(self) -> str | None:
        """None when the database answered in time, else a short reason."""
        if self.inflight is None or self.inflight.done():
            self.inflight = self._start()
        try:
            await asyncio.wait_for(asyncio.wrap_future(self.inflight), PING_TIMEOUT)
        except TimeoutError:
            log.warning("health check: the database did not answer within %s s", PING_TIMEOUT)
            return f"no answer within {PING_TIMEOUT:g} s"
        except Exception as exc:
            # The details (host, database name) go to the log, not to whoever asked.
            log.warning("health check: the database failed: %s", exc)
            return f"error ({type(exc).__name__})"
        return None


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    state = request.app.state
    pinger: Pinger | None = getattr(state, "pinger", None)
    if pinger is None:
        pinger = state.pinger = Pinger(state.store)
    reason = await pinger.ping()
    if reason is not None:
        return JSONResponse(
            {"status": "unavailable", "database": reason}, status_code=503, headers=NO_STORE
        )
    bridge = getattr(state, "bridge", None)
    if bridge is not None and not bridge.listening.is_set():
        # Not hearing other nodes' commits yet: its readers would get them only on the next
        # resync, seconds late. Not ready until the LISTEN connection is up.
        return JSONResponse(
            {"status": "unavailable", "database": "ok", "bridge": "not listening"},
            status_code=503,
            headers=NO_STORE,
        )
    body = {"status": "ok", "database": "ok"}
    if bridge is not None:
        body["bridge"] = "listening"
    return JSONResponse(body, headers=NO_STORE)


@router.get("/metrics")
async def prometheus_metrics() -> Response:
    # Off the loop: with several workers this reads every worker's metric files.
    body = await run_in_threadpool(metrics.exposition)
    return Response(body, media_type=metrics.CONTENT_TYPE, headers=NO_STORE)
