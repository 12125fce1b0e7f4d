"""Who the client is: `X-Forwarded-For` and `X-Forwarded-Proto` are believed only from the
proxies listed in LIVEBLOG_TRUSTED_PROXIES, and then the request's client address and scheme
are rewritten in place, so login throttling, Secure cookies and access logs all agree.

Anyone can send `X-Forwarded-For`; only the entries our own proxies appended are true. Walking
the list from the right, the first address that is not one of our proxies is the client's.
"""

from __future__ import annotations

import ipaddress
import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from liveblog.settings import Network

log = logging.getLogger(__name__)
MAX_WARNED = 100


def is_trusted(address: str, networks: list[Network]) -> bool:
    if not networks:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_from(forwarded_for: list[str], networks: list[Network]) -> str:
    """The right-most address that is not a trusted proxy (the left-most if all are)."""
    hops = [hop.strip() for hop in forwarded_for if hop.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop, networks):
            return hop[:64]
    return hops[0][:64] if hops else ""


def client_address(peer: str, headers: list[tuple[bytes, bytes]], networks: list[Network]) -> str:
    """Who a request is from, for counting: its `X-Forwarded-For` client when `peer` is one of
    our proxies, else the peer itself (the server's protocol uses this before ASGI runs)."""
    if not is_trusted(peer, networks):
        return peer
    forwarded_for: list[str] = []
    for name, value in headers:
        if name == b"x-forwarded-for":
            forwarded_for += value.decode("latin-1").split(",")
    return client_from(forwarded_for, networks) or peer


class TrustedProxies:
    def __init__(self, app: ASGIApp, networks: list[Network]) -> None:
        self.app = app
        self.networks = networks
        self._warned: set[str] = set()

    def trusted(self, address: str) -> bool:
        return is_trusted(address, self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("client"):
            self.rewrite(scope)
        await self.app(scope, receive, send)

    def rewrite(self, scope: Scope) -> None:
        forwarded_for: list[str] = []
        proto = ""
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                forwarded_for += value.decode("latin-1").split(",")
            elif name == b"x-forwarded-proto":
                proto = value.decode("latin-1").split(",")[-1].strip().lower()
        if not forwarded_for and not proto:
            return
        peer = scope["client"][0]
        if not self.trusted(peer):
            self._warn(peer)
            return
        client = client_from(forwarded_for, self.networks)
        if client:
            scope["client"] = (client, 0)
        if proto in ("http", "https"):
            scope["scheme"] = proto

    def _warn(self, peer: str) -> None:
        if peer in self._warned or len(self._warned) >= MAX_WARNED:
            return
        self._warned.add(peer)
        log.warning(
            "X-Forwarded-For/-Proto from %s ignored: not in LIVEBLOG_TRUSTED_PROXIES. If %s is "
            "your proxy, list it there, or every client counts as that one address.",
            peer,
            peer,
        )
