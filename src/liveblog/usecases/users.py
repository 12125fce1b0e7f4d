"""The newsroom's accounts: create, list, change a password, disable and enable.

`by` is the admin acting (the admin page), or None for the command line, which has the
database's own rights (the audit log says "system").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from liveblog import credentials
from liveblog.domain.audit import AuditAction
from liveblog.domain.errors import InvalidState, NotFound
from liveblog.domain.models import Role, User
from liveblog.domain.rules import Action, check_password, check_username, require
from liveblog.storage.base import UserTx
from liveblog.usecases.core import Core


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An active API token as an admin sees it: which one and since when, never the token
    or its hash."""

    id: int
    created_at: datetime


@dataclass(slots=True)
class Member:
    """A user as the admin page lists them."""

    user: User
    created_at: datetime
    tokens: list[TokenInfo] = field(default_factory=list)
    """The active API tokens, oldest first."""


def user_named(tx: UserTx, name: str) -> User:
    found = tx.user_credentials(name)
    if found is None:
        raise NotFound(f"no user named {name!r}")
    return found[0]


def admin_only(by: User | None) -> None:
    """An admin's command must be an admin's; the command line (None) may do anything."""
    if by is not None:
        require(by, Action.MANAGE_USERS)


class Users(Core):
    def create_user(
        self, name: str, role: Role, password: str | None, by: User | None = None
    ) -> User:
        admin_only(by)
        check_username(name)
        if password is not None:
            check_password(password)
        hashed = credentials.hash_password(password) if password else None
        with self.door.write() as unit:
            user = unit.tx.insert_user(name, role, hashed, unit.now)
            unit.record(by, [(AuditAction.USER_CREATE, {"user": name, "role": role})])
        return user

    def user_count(self) -> int:
        with self.store.read() as tx:
            return tx.count_users()

    def users(self, by: User | None = None) -> list[User]:
        admin_only(by)
        with self.store.read() as tx:
            return tx.list_users()

    def team(self, by: User | None = None) -> list[Member]:
        """Every user, by name, with when they were created and their active API tokens."""
        admin_only(by)
        with self.store.read() as tx:
            members = {user.id: Member(user, created) for user, created in tx.users_created()}
            for token_id, user_id, created in tx.active_tokens():
                if user_id in members:
                    members[user_id].tokens.append(TokenInfo(token_id, created))
        return list(members.values())

    def set_password(self, name: str, password: str, by: User | None = None) -> int:
        """Set a new password and end the user's sessions; returns how many were ended."""
        admin_only(by)
        hashed = credentials.hash_password(check_password(password))
        with self.door.write() as unit:
            user = user_named(unit.tx, name)
            unit.tx.set_password_hash(user.id, hashed)
            unit.record(by, [(AuditAction.USER_PASSWORD, {"user": user.name})])
            return unit.tx.revoke_sessions(unit.now, user_id=user.id)

    def set_disabled(self, name: str, disabled: bool, by: User | None = None) -> int:
        """Disable (ending every session at once) or enable a user; returns sessions ended.
        A disabled user's API tokens stop working too, and work again once enabled. An admin
        cannot disable themselves (the last admin would lock the newsroom out)."""
        admin_only(by)
        with self.door.write() as unit:
            user = user_named(unit.tx, name)
            if disabled and by is not None and by.id == user.id:
                raise InvalidState("you cannot disable your own account; another admin can")
            if user.disabled == disabled:
                return 0  # nothing changes, so no audit row
            unit.tx.set_user_disabled(user.id, disabled)
            action = AuditAction.USER_DISABLE if disabled else AuditAction.USER_ENABLE
            unit.record(by, [(action, {"user": user.name})])
            return unit.tx.revoke_sessions(unit.now, user_id=user.id) if disabled else 0
