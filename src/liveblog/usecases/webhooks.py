"""A blog's outgoing webhooks, where they may point, and the desk's view of what left the site.

A webhook's URL is checked twice: when it is added, and by the relay before each delivery
(a name can start resolving elsewhere). An address on loopback, a private or link-local network
(a cloud's metadata service among them) is refused unless the operator allows it: otherwise
anyone with an editor's password could make the server call into its own network.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from liveblog.domain.audit import AuditAction
from liveblog.domain.errors import InvalidInput, NotFound
from liveblog.domain.events import EventType
from liveblog.domain.models import User
from liveblog.domain.outbox import WEBHOOK_EVENTS, OutboxItem, OutboxKind, OutboxState, Webhook
from liveblog.domain.rules import Action, require
from liveblog.usecases.core import Core
from liveblog.usecases.lookup import blog_or_404

MAX_WEBHOOKS = 20
MAX_URL = 2_000
MIN_SECRET = 16
MAX_SECRET = 200
LOG_SIZE = 50

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedTarget(InvalidInput):
    """The URL points where the server must not call."""


def split_target(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL with no user name or password in it."""
    if len(url) > MAX_URL:
        raise InvalidInput("url", f"must be at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidInput("url", "is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("url", "must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("url", "must not contain a user name or password")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise InvalidInput("url", "must not contain spaces or control characters")
    if not url.isascii():
        # Names are compared and sent in one spelling only: the ASCII one (xn--…).
        raise InvalidInput("url", "must be ASCII: write an international name as xn--…")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def refusal(address: IpAddress) -> str | None:
    """Why the server must not call this address, or None if it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private or address.is_reserved or address.is_unspecified:
        return "a private or reserved address"
    if address.is_multicast:
        return "a multicast address"
    if not address.is_global or (
        isinstance(address, ipaddress.IPv6Address) and address.is_site_local
    ):
        # Carrier-grade NAT (100.64/10: some clouds' metadata services, pod networks), site-
        # local IPv6 (fec0::/10, deprecated but still routed inside some networks, and which
        # Python counts as global) and whatever else is not reachable from the internet.
        return "not a public address"
    return None


def vet_target(url: str, allow_private: bool) -> tuple[str, str, int, list[str]]:
    """(scheme, host, port, the addresses it resolves to) once every address is one the server
    may call; RefusedTarget otherwise. The caller connects to these addresses, not to a fresh
    lookup, so the answer checked is the answer used."""
    scheme, host, port = split_target(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise RefusedTarget("url", f"the host {host!r} does not resolve") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private:
        for text in addresses:
            why = refusal(ipaddress.ip_address(text.split("%", 1)[0]))
            if why:
                raise RefusedTarget(
                    "url",
                    f"{host} resolves to {text}, {why}; webhooks may only call public "
                    "addresses (an operator can allow others: LIVEBLOG_WEBHOOK_ALLOW_PRIVATE)",
                )
    return scheme, host, port, addresses


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox item as the desk shows it."""

    item: OutboxItem
    entry_id: int | None

    def json(self) -> dict[str, Any]:
        i = self.item
        return {
            "id": i.id,
            "kind": i.kind.value,
            "target": i.target,
            "seq": i.seq,
            "event": i.event_type,
            "entry_id": self.entry_id,
            "state": i.state.value,
            "attempts": i.attempts,
            "last_error": i.last_error or None,
            "created_at": i.created_at.isoformat(),
            "sent_at": i.sent_at.isoformat() if i.sent_at else None,
            "next_attempt_at": (
                i.next_attempt_at.isoformat() if i.state is OutboxState.PENDING else None
            ),
        }


class Webhooks(Core):
    allow_private_targets: bool = False
    """Set by the app from LIVEBLOG_WEBHOOK_ALLOW_PRIVATE (tests, a newsroom's own network)."""

    def webhooks(self, user: User, slug: str) -> list[Webhook]:
        require(user, Action.MANAGE_WEBHOOKS)
        with self.store.read() as tx:
            return tx.webhooks(blog_or_404(tx, slug).id)

    def add_webhook(
        self, user: User, slug: str, url: str, events: Iterable[str], secret: str | None
    ) -> Webhook:
        """A new webhook; with no secret given, one is made (and shown this once)."""
        require(user, Action.MANAGE_WEBHOOKS)
        kinds = _event_types(events)
        if secret is None:
            secret = secrets.token_urlsafe(32)
        elif (
            not MIN_SECRET <= len(secret) <= MAX_SECRET
            or not secret.isprintable()
            or any(c.isspace() for c in secret)
            or len(set(secret)) < 8
        ):
            raise InvalidInput(
                "secret",
                f"must be {MIN_SECRET} to {MAX_SECRET} printable characters without spaces, "
                "and not one character repeated (leave it out to have one made)",
            )
        vet_target(url, self.allow_private_targets)
        with self.door.write() as unit:
            blog = blog_or_404(unit.tx, slug, for_update=True)
            if len(unit.tx.webhooks(blog.id)) >= MAX_WEBHOOKS:
                raise InvalidInput("url", f"a blog may have at most {MAX_WEBHOOKS} webhooks")
            hook = unit.tx.insert_webhook(
                Webhook(blog.id, url, kinds, secret=secret, created_at=unit.now)
            )
            detail = {"webhook_id": hook.id, "url": url, "events": [k.value for k in kinds]}
            unit.record(user, [(AuditAction.WEBHOOK_ADD, detail)], blog_id=blog.id)
        return hook

    def remove_webhook(self, user: User, slug: str, webhook_id: int) -> None:
        require(user, Action.MANAGE_WEBHOOKS)
        with self.door.write() as unit:
            blog = blog_or_404(unit.tx, slug, for_update=True)
            if not unit.tx.delete_webhook(blog.id, webhook_id):
                raise NotFound(f"no webhook {webhook_id} on this blog")
            detail = {"webhook_id": webhook_id}
            unit.record(user, [(AuditAction.WEBHOOK_REMOVE, detail)], blog_id=blog.id)

    def deliveries(self, user: User, slug: str, seq: int | None = None) -> list[Delivery]:
        """What left or is leaving the site for this blog, newest first (the desk's log);
        with `seq`, only what that change sent."""
        require(user, Action.MANAGE_WEBHOOKS)
        with self.store.read() as tx:
            blog = blog_or_404(tx, slug)
            items = tx.outbox_items(blog.id, LOG_SIZE, seq)
            entries = {}
            for s in {i.seq for i in items}:
                found = tx.events_after(blog.id, s - 1, 1)
                entries[s] = found[0].entry_id if found and found[0].seq == s else None
        return [Delivery(i, entries[i.seq]) for i in items]


def retraction_reach(deliveries: Iterable[Delivery]) -> list[dict[str, Any]]:
    """Per retraction: "gone everywhere" once every purge of it succeeded, else which failed or
    are still waiting — with the error holding up its lane (its own, or that of an earlier
    purge it waits behind)."""
    items = sorted((d for d in deliveries), key=lambda d: d.item.id)
    lane_error: dict[str, str] = {}
    by_seq: dict[int, list[tuple[Delivery, str]]] = {}
    for d in items:
        i = d.item
        if i.kind is not OutboxKind.PURGE:
            continue
        if i.state is OutboxState.PENDING and i.last_error:
            lane_error.setdefault(i.lane, i.last_error)
        if i.event_type == EventType.ENTRY_RETRACTED:
            by_seq.setdefault(i.seq, []).append((d, i.last_error or lane_error.get(i.lane, "")))
    out = []
    for seq, group in sorted(by_seq.items(), reverse=True):
        failed = [d.item.target for d, _ in group if d.item.state is OutboxState.FAILED]
        waiting = [(d.item, error) for d, error in group if d.item.state is OutboxState.PENDING]
        out.append(
            {
                "seq": seq,
                "entry_id": group[0][0].entry_id,
                "gone_everywhere": not failed and not waiting,
                "failed": sorted(failed),
                "waiting": [{"target": i.target, "error": error or None} for i, error in waiting],
            }
        )
    return out


def _event_types(events: Iterable[str]) -> tuple[EventType, ...]:
    names = list(events)
    if not names:
        raise InvalidInput("events", "must name at least one event")
    kinds = []
    allowed = sorted(k.value for k in WEBHOOK_EVENTS)
    for name in names:
        try:
            kind = EventType(name)
        except ValueError:
            kind = None
        if kind is None or kind not in WEBHOOK_EVENTS:
            raise InvalidInput("events", f"{name!r} is not one of {', '.join(allowed)}")
        if kind not in kinds:
            kinds.append(kind)
    return tuple(kinds)
