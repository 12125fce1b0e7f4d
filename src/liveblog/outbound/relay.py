"""The relay: sends the outbox, once, in order, for the whole cluster.

Every node runs the loop; only the holder of the `outbox-relay` lease sends (a `jobs` row it
renews every few seconds; when the holder dies another node takes the lease once it lapses).
Items go out in id order per lane (a blog and a destination): a lane stops at its first failure
and its later items wait, so a destination that was away gets a blog's changes in the order they
happened. An item is marked sent after its destination said yes; should the holder die between
the two, the next holder sends it again with the same `Liveblog-Delivery` id, which receivers
use to drop the repeat. Consecutive purges of one lane are merged into one (a purge is
idempotent), so an editing burst costs a CDN one round of requests, not one per keystroke save.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx

from liveblog.domain.outbox import (
    MAX_ATTEMPTS,
    SIGNATURE_HEADER,
    OutboxItem,
    OutboxKind,
    retry_delay,
    signature,
)
from liveblog.domain.purges import is_prefix
from liveblog.metrics import OUTBOX_FAILURES, OUTBOX_SENT
from liveblog.outbound.targets import PurgeTarget
from liveblog.render.jsonview import event_json_text
from liveblog.usecases.webhooks import RefusedTarget, vet_target

if TYPE_CHECKING:
    from liveblog.service import Liveblog

log = logging.getLogger(__name__)

LEASE = "outbox-relay"
LEASE_SECONDS = 10.0
LANES_PER_ROUND = 200
"""Lanes read per round, and items per lane (a lane's purges are merged into one send)."""
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
PARALLEL_PURGES = 8
USER_AGENT = "Liveblog-Relay/1"


class SendFailed(Exception):
    """The destination did not take the item; the message is what the desk's log shows."""


class Relay:
    def __init__(
        self,
        svc: Liveblog,
        targets: Sequence[PurgeTarget],
        site_base: str,
        node: str,
        *,
        allow_private: bool = False,
        poll_seconds: float = 0.5,
    ) -> None:
        self.svc = svc
        self.targets = {t.name: t for t in targets}
        self.site_base = site_base
        self.node = node
        self.allow_private = allow_private
        self.poll_seconds = poll_seconds
        self.clock: Callable[[], datetime] = lambda: svc.clock()  # a test may move it
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._leading = False

    def wake(self) -> None:
        """Called by the door after a commit that wrote items (from any thread)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        renewer = asyncio.create_task(self._keep_lease())
        try:
            async with httpx.AsyncClient(
                timeout=TIMEOUT, follow_redirects=False, trust_env=False
            ) as client:
                while True:
                    try:
                        while self._leading and await self.send_due(client):
                            pass  # something was sent: look again before sleeping
                    except Exception:
                        # The database may be away for a moment; nothing is lost: items stay
                        # pending until marked sent.
                        log.exception("the outbox relay failed a round; retrying")
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
        finally:
            renewer.cancel()

    async def _keep_lease(self) -> None:
        """Claim or renew the lease every third of its length, rounds in progress or not, so a
        long round never outlives it; a lost lease stops this node sending at its next item."""
        while True:
            try:
                await self._hold_lease()
            except Exception:
                self._leading = False
                log.exception("the outbox relay could not renew its lease")
            await asyncio.sleep(LEASE_SECONDS / 3)

    async def _hold_lease(self) -> bool:
        """Claim the lease (or renew it) now; whether this node leads."""
        wall = self.clock()
        until = wall + timedelta(seconds=LEASE_SECONDS)

        def claim() -> bool:
            with self.svc.store.write() as tx:
                return tx.claim_lease(LEASE, self.node, wall, until)

        was = self._leading
        self._leading = await asyncio.to_thread(claim)
        if self._leading and not was:
            self._wake.set()  # just took over: what the last holder left may be due
        return self._leading

    async def send_due(self, client: httpx.AsyncClient) -> bool:
        """One round over every lane whose head is due; True if anything was sent (there may
        be more behind it)."""
        now = self.clock()

        def due() -> list[list[OutboxItem]]:
            with self.svc.store.read() as tx:
                return tx.due_lanes(now, LANES_PER_ROUND)

        lanes = await asyncio.to_thread(due)
        # Each lane on its own: one lane's failure (whatever it is) never stops the others,
        # and no lane's task outlives the round.
        results = await asyncio.gather(
            *(self._drain(client, lane) for lane in lanes), return_exceptions=True
        )
        for lane, result in zip(lanes, results, strict=True):
            if isinstance(result, BaseException):
                log.error("outbox lane %s failed a round", lane[0].lane, exc_info=result)
        return any(r is True for r in results)

    async def _drain(self, client: httpx.AsyncClient, lane: list[OutboxItem]) -> bool:
        """Send the lane's items in order until one fails; True if any was sent."""
        sent = False
        i = 0
        while i < len(lane) and self._leading:
            head = lane[i]
            if head.next_attempt_at > self.clock():
                break  # waiting for its retry; everything behind it waits too
            batch = lane[i:] if head.kind is OutboxKind.PURGE else [head]
            failure = None
            try:
                await self._send(client, batch)
            except SendFailed as exc:
                failure = str(exc)
            except Exception as exc:  # a bug or an odd URL must not wedge the lane
                log.exception("outbox item %d could not be sent", head.id)
                failure = f"{type(exc).__name__}: {exc}"
            if failure is None:
                await asyncio.to_thread(self._sent, batch)
                OUTBOX_SENT.labels(kind=head.kind.value).inc(len(batch))
                sent = True
            else:
                OUTBOX_FAILURES.labels(kind=head.kind.value).inc()
                if not await asyncio.to_thread(self._failed, batch, failure):
                    break
            i += len(batch)
        return sent

    def _sent(self, batch: list[OutboxItem]) -> None:
        with self.svc.store.write() as tx:
            tx.mark_outbox_sent([i.id for i in batch], self.clock())

    def _failed(self, batch: list[OutboxItem], error: str) -> bool:
        """Record one failed attempt of each item (merged purges are counted each by their
        own attempts, so a fresh one is never given up with an old one); True if the lane may
        go on (its head was given up)."""
        now = self.clock()
        head = batch[0]
        with self.svc.store.write() as tx:
            for item in batch:
                attempts = item.attempts + 1
                tx.mark_outbox_failed(
                    [item.id], error, now + retry_delay(attempts), attempts >= MAX_ATTEMPTS
                )
            given_up = head.attempts + 1 >= MAX_ATTEMPTS
            if given_up and head.kind is OutboxKind.WEBHOOK:
                # A receiver away for hours: what queued behind it is failed now rather than
                # given its own hours each, one after another.
                tx.fail_lane(head.lane, f"an earlier delivery to this webhook failed: {error}")
        log.warning(
            "outbox item %d (%s to %s) failed (attempt %d%s): %s",
            head.id,
            head.kind.value,
            head.target,
            head.attempts + 1,
            ", given up" if given_up else "",
            error,
        )
        return given_up and head.kind is OutboxKind.PURGE

    async def _send(self, client: httpx.AsyncClient, batch: list[OutboxItem]) -> None:
        head = batch[0]
        if head.kind is OutboxKind.PURGE:
            paths: list[str] = []
            for item in batch:
                paths += json.loads(item.payload)
            await self._purge(client, head.target, list(dict.fromkeys(paths)))
        else:
            await self._deliver(client, head)

    # --- purges -----------------------------------------------------------------------------

    async def _purge(self, client: httpx.AsyncClient, name: str, paths: list[str]) -> None:
        target = self.targets.get(name)
        if target is None:
            raise SendFailed(f"no purge target {name!r} is configured any more")
        wanted = [p for p in paths if target.prefix or not is_prefix(p)]
        gate = asyncio.Semaphore(PARALLEL_PURGES)
        headers = {"user-agent": USER_AGENT, **target.request_headers()}

        async def one(path: str) -> str | None:
            async with gate:
                url = target.request_url(path, self.site_base)
                try:
                    response = await client.request(target.method, url, headers=headers)
                except httpx.HTTPError as exc:
                    return f"{path}: {type(exc).__name__} {exc}".strip()
                # 404: the cache held no copy, which is what a purge wants.
                if response.is_success or response.status_code == 404:
                    return None
                return f"{path}: HTTP {response.status_code}"

        errors = [e for e in await asyncio.gather(*(one(p) for p in wanted)) if e]
        if errors:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise SendFailed(errors[0] + more)

    # --- webhooks ---------------------------------------------------------------------------

    async def _deliver(self, client: httpx.AsyncClient, item: OutboxItem) -> None:
        found = await asyncio.to_thread(self._delivery, item)
        if found is None:
            raise SendFailed("the webhook was removed")
        url, secret, body = found
        try:
            scheme, host, _port, addresses = await asyncio.to_thread(
                vet_target, url, self.allow_private
            )
        except RefusedTarget as exc:
            raise SendFailed(exc.message) from None
        stamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "liveblog-event": item.event_type,
            "liveblog-delivery": str(item.id),
            SIGNATURE_HEADER.lower(): signature(secret, stamp, body),
        }
        # Connect to an address just vetted, not a fresh lookup that could answer otherwise;
        # the name still goes in Host and in TLS (SNI and the certificate check).
        try:
            pinned = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise SendFailed(f"the webhook's URL cannot be used: {exc}") from None
        headers["host"] = pinned.netloc.decode("ascii")
        extensions = {"sni_hostname": host} if scheme == "https" else {}
        response, error = None, f"{host} has no address"
        for address in addresses:
            try:
                response = await client.post(
                    pinned.copy_with(host=address),
                    content=body,
                    headers=headers,
                    extensions=extensions,
                )
                break
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                error = f"{type(exc).__name__} {exc}".strip()  # try the next address
            except httpx.HTTPError as exc:
                raise SendFailed(f"{type(exc).__name__} {exc}".strip()) from None
        if response is None:
            raise SendFailed(error)
        if response.is_redirect:
            raise SendFailed(f"HTTP {response.status_code}: redirects are not followed")
        if not response.is_success:
            raise SendFailed(f"HTTP {response.status_code}")

    def _delivery(self, item: OutboxItem) -> tuple[str, str, bytes] | None:
        """The hook's URL, secret and the body: the event as the log holds it now (redacted
        if its entry was retracted since), as `/events` lists it, with the blog's slug."""
        with self.svc.store.read() as tx:
            hook = tx.webhook(int(item.target))
            blog = tx.blog_by_id(item.blog_id)
            found = tx.events_after(item.blog_id, item.seq - 1, 1)
        if hook is None or hook.blog_id != item.blog_id or blog is None:
            return None
        if not found or found[0].seq != item.seq:
            return None
        return hook.url, hook.secret, event_json_text(found[0], blog.slug).encode()
