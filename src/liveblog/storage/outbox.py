"""The store's queries for the outbox, webhooks and the relay's lease.

A part of `SqlTx` (a mixin), kept apart so that each module stays small.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, or_, select, update
from sqlalchemy.engine import Row

from liveblog.domain.events import EventType
from liveblog.domain.outbox import OutboxItem, OutboxKind, OutboxState, Webhook
from liveblog.storage.rows import utc, utc_required
from liveblog.storage.schema import jobs, outbox, webhooks


class OutboxQueries:
    conn: Connection
    dialect: str

    def insert_outbox(self, items: Sequence[OutboxItem]) -> None:
        """All of one write's items in one INSERT."""
        if not items:
            return
        self.conn.execute(
            outbox.insert(),
            [
                {
                    "blog_id": i.blog_id,
                    "seq": i.seq,
                    "event_type": i.event_type,
                    "kind": i.kind.value,
                    "target": i.target,
                    "lane": i.lane,
                    "payload": i.payload,
                    "state": i.state.value,
                    "attempts": 0,
                    "next_attempt_at": i.next_attempt_at,
                    "last_error": "",
                    "created_at": i.created_at,
                }
                for i in items
            ],
        )

    def pending_outbox(self, limit: int) -> list[OutboxItem]:
        """The oldest pending items, in id order (due or not: a lane whose head is waiting for
        its retry must not let a later item past)."""
        rows = self.conn.execute(
            select(outbox)
            .where(outbox.c.state == OutboxState.PENDING.value)
            .order_by(outbox.c.id)
            .limit(limit)
        )
        return [_item(r) for r in rows]

    def due_lanes(self, now: datetime, limit: int) -> list[list[OutboxItem]]:
        """Lanes whose oldest pending item is due, oldest head first: each lane's pending items
        in id order (at most `limit` of them). A lane whose head waits for its retry is not
        read at all, however many items wait behind it."""
        pending = outbox.c.state == OutboxState.PENDING.value
        heads = (
            select(outbox.c.lane, func.min(outbox.c.id).label("head"))
            .where(pending)
            .group_by(outbox.c.lane)
            .subquery()
        )
        due = self.conn.execute(
            select(heads.c.lane)
            .join(outbox, outbox.c.id == heads.c.head)
            .where(outbox.c.next_attempt_at <= now)
            .order_by(heads.c.head)
            .limit(limit)
        ).scalars()
        lanes = []
        for name in list(due):
            rows = self.conn.execute(
                select(outbox)
                .where(pending, outbox.c.lane == name)
                .order_by(outbox.c.id)
                .limit(limit)
            )
            lanes.append([_item(r) for r in rows])
        return lanes

    def outbox_items(self, blog_id: int, limit: int, seq: int | None = None) -> list[OutboxItem]:
        """A blog's items newest first (the desk's delivery log), or those of one change."""
        query = select(outbox).where(outbox.c.blog_id == blog_id)
        if seq is not None:
            query = query.where(outbox.c.seq == seq)
        return [
            _item(r) for r in self.conn.execute(query.order_by(outbox.c.id.desc()).limit(limit))
        ]

    def mark_outbox_sent(self, ids: Sequence[int], at: datetime) -> int:
        """Pending items become sent; an item another relay already settled is left alone."""
        result = self.conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(ids), outbox.c.state == OutboxState.PENDING.value)
            .values(state=OutboxState.SENT.value, sent_at=at, last_error="")
        )
        return int(result.rowcount)

    def mark_outbox_failed(
        self, ids: Sequence[int], error: str, next_attempt_at: datetime, give_up: bool
    ) -> None:
        """One more failed attempt: retried at `next_attempt_at`, or failed for good."""
        state = OutboxState.FAILED if give_up else OutboxState.PENDING
        self.conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(ids), outbox.c.state == OutboxState.PENDING.value)
            .values(
                attempts=outbox.c.attempts + 1,
                last_error=error[:500],
                next_attempt_at=next_attempt_at,
                state=state.value,
            )
        )

    def fail_lane(self, lane: str, error: str) -> int:
        """Every pending item of the lane failed for good, with the reason."""
        result = self.conn.execute(
            update(outbox)
            .where(outbox.c.lane == lane, outbox.c.state == OutboxState.PENDING.value)
            .values(state=OutboxState.FAILED.value, last_error=error[:500])
        )
        return int(result.rowcount)

    def purge_outbox(self, settled_before: datetime) -> int:
        """Forget items sent or failed before then (the desk's log shows the last 50 anyway);
        pending ones stay, however old."""
        result = self.conn.execute(
            delete(outbox).where(
                outbox.c.state != OutboxState.PENDING.value, outbox.c.created_at < settled_before
            )
        )
        return int(result.rowcount)

    def claim_lease(self, name: str, node: str, now: datetime, until: datetime) -> bool:
        """Hold (or renew) the named lease until `until`: won if it lapsed or is ours already.
        The conditional update lets exactly one of the racing nodes win a lapsed lease."""
        result = self.conn.execute(
            update(jobs)
            .where(jobs.c.name == name, or_(jobs.c.next_run_at <= now, jobs.c.last_node == node))
            .values(next_run_at=until, last_run_at=now, last_node=node)
        )
        return result.rowcount == 1

    # --- webhooks ---------------------------------------------------------------------------

    def insert_webhook(self, hook: Webhook) -> Webhook:
        hook.id = self.conn.execute(
            webhooks.insert().values(
                blog_id=hook.blog_id,
                url=hook.url,
                events=json.dumps([e.value for e in hook.events]),
                secret=hook.secret,
                created_at=hook.created_at,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        return hook

    def webhooks(self, blog_id: int) -> list[Webhook]:
        rows = self.conn.execute(
            select(webhooks).where(webhooks.c.blog_id == blog_id).order_by(webhooks.c.id)
        )
        return [_webhook(r) for r in rows]

    def webhook(self, webhook_id: int) -> Webhook | None:
        row = self.conn.execute(select(webhooks).where(webhooks.c.id == webhook_id)).first()
        return _webhook(row) if row else None

    def delete_webhook(self, blog_id: int, webhook_id: int) -> bool:
        """Remove it; its deliveries still waiting are failed, never sent to a removed hook."""
        result = self.conn.execute(
            delete(webhooks).where(webhooks.c.blog_id == blog_id, webhooks.c.id == webhook_id)
        )
        if result.rowcount != 1:
            return False
        self.conn.execute(
            update(outbox)
            .where(
                outbox.c.kind == OutboxKind.WEBHOOK.value,
                outbox.c.target == str(webhook_id),
                outbox.c.state == OutboxState.PENDING.value,
            )
            .values(state=OutboxState.FAILED.value, last_error="the webhook was removed")
        )
        return True


def _item(r: Row[Any]) -> OutboxItem:
    return OutboxItem(
        id=r.id,
        blog_id=r.blog_id,
        seq=r.seq,
        event_type=r.event_type,
        kind=OutboxKind(r.kind),
        target=r.target,
        payload=r.payload,
        state=OutboxState(r.state),
        attempts=r.attempts,
        next_attempt_at=utc_required(r.next_attempt_at),
        last_error=r.last_error,
        created_at=utc_required(r.created_at),
        sent_at=utc(r.sent_at),
    )


def _webhook(r: Row[Any]) -> Webhook:
    return Webhook(
        id=r.id,
        blog_id=r.blog_id,
        url=r.url,
        events=tuple(EventType(e) for e in json.loads(r.events)),
        secret=r.secret,
        created_at=utc_required(r.created_at),
    )
