"""The ASGI application factory. Nothing happens at import time; `create_app` wires it all."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

from liveblog import __version__
from liveblog.broadcast.memory import InProcessHub
from liveblog.broadcast.pgbridge import PgBridge
from liveblog.domain.events import Event
from liveblog.media.blobs import BlobStoreError, LocalBlobs, open_blob_store
from liveblog.media.intake import IntakeLimits
from liveblog.media.library import MediaLibrary
from liveblog.service import Liveblog
from liveblog.settings import SettingError, Settings
from liveblog.storage.sql import SqlStore
from liveblog.usecases.scheduler import JobRunner
from liveblog.usecases.sessions import SessionPolicy
from liveblog.web import (
    admin,
    api,
    apidocs,
    audit,
    caching,
    deskhome,
    deskpage,
    embed,
    errors,
    fastpath,
    feeds,
    lite,
    login,
    media,
    ops,
    presence,
    reader,
    seo,
    webhooks,
)
from liveblog.web import site as site_routes
from liveblog.web.compression import Compression
from liveblog.web.cors import PublicReads
from liveblog.web.edge import EDGE_KEY, CountedStreams, Edge, Limits
from liveblog.web.head import HeadAsGet
from liveblog.web.headers import allow_framing_by
from liveblog.web.limits import BodyLimit
from liveblog.web.pagecache import PageCache
from liveblog.web.proxies import TrustedProxies
from liveblog.web.reach import reach_from_settings, relay_for
from liveblog.web.security import SecurityHeaders
from liveblog.web.signing import Signer
from liveblog.web.site import site_from_settings
from liveblog.web.streaming.asgiwriter import StreamEndpoint

STATIC = Path(__file__).with_name("static")
log = logging.getLogger(__name__)
# The multipart wrapping around an upload's file: its boundaries and the short text fields.
UPLOAD_OVERHEAD = 64 * 1024


def media_library(settings: Settings) -> MediaLibrary:
    """Where pictures' bytes go (the local directory unless a bucket is set) and how big an
    upload may be; a bad combination stops the start naming the setting."""
    try:
        blobs = open_blob_store(
            settings.media_directory(),
            settings.s3_bucket or None,
            settings.s3_endpoint_url or None,
            settings.s3_public_url or None,
            settings.s3_prefix,
            settings.s3_region or None,
        )
    except (ValueError, BlobStoreError) as exc:
        raise SettingError(str(exc)) from None
    limits = IntakeLimits(max_bytes=settings.media_max_bytes, max_pixels=settings.media_max_pixels)
    return MediaLibrary(blobs, limits)


def create_app(settings: Settings | None = None, store: SqlStore | None = None) -> FastAPI:
    settings = settings or Settings()
    # Bad values stop the start here, with the variable named (SettingError).
    trusted_proxies = settings.trusted_networks()
    site, site_files = site_from_settings(settings)
    allow_framing_by(site.frame_origins)
    caching.configure(settings.cache_s_maxage, settings.cache_stale_seconds)
    secret_key = settings.secret_key_bytes()
    store = store or SqlStore(settings.resolved_database_url(), settings.db_pool_size)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, object]]:
        store.migrate()
        # The signing key every node shares (made now if the database has none yet).
        await asyncio.to_thread(signer.key)
        await hub.start()
        if bridge is not None:
            bridge.start()
            # Serve once this node hears the others (or give up waiting: /healthz says so).
            await asyncio.to_thread(bridge.wait_listening, 5.0)
        hub.spawn(JobRunner(svc, settings.schedule_poll_seconds).run())
        hub.spawn(relay.run())
        # Everything alive now (modules, app, templates) lives as long as the process: keep it
        # out of the collector's full passes, which otherwise rescan it all while thousands of
        # readers connect and stall delivery.
        gc.collect()
        gc.freeze()
        # The server's protocol (web/fastpath.py) finds the hub in the lifespan state.
        state: dict[str, object] = {EDGE_KEY: edge}
        if settings.fast_stream:
            state |= {fastpath.HUB_KEY: hub, fastpath.SERVICE_KEY: svc, fastpath.PAGES_KEY: pages}
        try:
            yield state
        finally:
            if bridge is not None:
                await asyncio.to_thread(bridge.stop)  # joins its thread: not on the loop
            await hub.stop()
            store.close()

    app = FastAPI(
        title="Liveblog API",
        version=__version__,
        openapi_url=apidocs.OPENAPI_URL,
        docs_url=None,  # FastAPI's page breaks the CSP; web/apidocs.py serves one that keeps it
        redoc_url=None,
        lifespan=lifespan,
    )

    def fetch(blog_id: int, after: int, limit: int) -> list[Event]:
        with store.read() as tx:
            return tx.events_after(blog_id, after, limit)

    hub = InProcessHub(
        fetch,
        buffer_limit=settings.reader_buffer_bytes,
        keepalive_seconds=settings.keepalive_seconds,
        stall_seconds=settings.stall_seconds,
    )
    # Several nodes share a PostgreSQL database; each hears the others' commits through it.
    bridge = PgBridge(store.url, hub) if store.dialect == "postgresql" else None
    policy = SessionPolicy(
        idle=timedelta(hours=settings.session_idle_hours),
        lifetime=timedelta(days=settings.session_max_days),
        account_limit=settings.login_account_limit,
        address_limit=settings.login_address_limit,
    )
    library = media_library(settings)
    if isinstance(library.blobs, LocalBlobs) and store.dialect == "postgresql":
        log.warning(
            "pictures are kept in the local directory %s while the database is shared: every "
            "node must see the same directory (a shared mount), or set LIVEBLOG_S3_BUCKET",
            settings.media_directory(),
        )
    log.info("pictures are kept in: %s", library.blobs.describe())
    reach = reach_from_settings(settings, site.base_url)
    svc = Liveblog(store, hub, policy=policy, library=library, reach=reach)
    relay = relay_for(svc, settings, site.base_url)
    signer = Signer(svc, secret_key)
    app.state.settings = settings
    app.state.site = site
    app.state.site_files = site_files
    app.state.store = store
    app.state.hub = hub
    app.state.bridge = bridge
    app.state.service = svc
    app.state.signer = signer
    pages = PageCache()
    app.state.page_cache = pages
    # What one client may hold of this process (web/edge.py), on every path.
    edge = Edge(Limits.from_settings(settings), trusted_proxies)
    app.state.edge = edge

    app.router.routes.append(
        Route(
            "/api/blogs/{slug}/stream",
            CountedStreams(StreamEndpoint(), edge),
            methods=["GET"],
            name="stream",
        )
    )
    app.include_router(api.router)
    app.include_router(media.router)
    app.include_router(webhooks.router)
    app.include_router(apidocs.router)
    app.include_router(audit.router)
    app.include_router(ops.router)
    app.include_router(lite.router)
    app.include_router(embed.router)
    app.include_router(reader.router)
    app.include_router(feeds.router)
    app.include_router(seo.router)
    app.include_router(login.router)
    app.include_router(deskhome.router)
    app.include_router(deskpage.router)
    app.include_router(presence.router)
    app.include_router(admin.router)
    app.include_router(site_routes.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    errors.install(app)
    upload_path = re.compile(r"/api/blogs/[^/]+/media")
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_request_bytes,
        streamed=(upload_path, settings.media_max_bytes + UPLOAD_OVERHEAD),
    )
    app.add_middleware(SecurityHeaders)
    # Outside SecurityHeaders: it must see the final Cache-Control (never compress no-store).
    app.add_middleware(Compression)
    app.add_middleware(PublicReads)
    app.add_middleware(HeadAsGet)
    # Outermost: everything inside sees the client address and scheme it established.
    app.add_middleware(TrustedProxies, networks=trusted_proxies)
    return app
