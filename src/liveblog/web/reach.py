"""Wiring what leaves the site from the settings: the purge targets, the outbox's side of the
door (`Reach`) and this node's relay. The server and the command line build the same `Reach`,
so a change made from either is purged and delivered (by whichever node holds the relay)."""

from __future__ import annotations

from datetime import timedelta

from liveblog.outbound.relay import Relay
from liveblog.outbound.targets import PurgeTarget, TargetError, parse_targets
from liveblog.service import Liveblog
from liveblog.settings import SettingError, Settings
from liveblog.usecases.outbox import Reach
from liveblog.usecases.scheduler import node_name


def purge_targets(settings: Settings) -> list[PurgeTarget]:
    try:
        return parse_targets(settings.purge_targets)
    except TargetError as exc:
        raise SettingError(f"LIVEBLOG_PURGE_TARGETS: {exc}") from None


CLUSTER_SETTLE = timedelta(seconds=1)
"""On PostgreSQL (several nodes, or workers) a purge waits this long: a node hears of another's
commit within milliseconds, and confirms its in-memory page within a second at most."""


def reach_from_settings(settings: Settings, site_base: str) -> Reach:
    shared = settings.database_url.startswith("postgresql")
    settle = CLUSTER_SETTLE if shared else timedelta(0)
    return Reach(tuple(t.name for t in purge_targets(settings)), site_base, settle)


def relay_for(svc: Liveblog, settings: Settings, site_base: str) -> Relay:
    """This node's relay, woken by the door's commits on this node."""
    relay = Relay(
        svc,
        purge_targets(settings),
        site_base,
        node_name(),
        allow_private=settings.webhook_allow_private,
    )
    svc.door.reach.on_enqueue(relay.wake)
    svc.allow_private_targets = settings.webhook_allow_private
    return relay
