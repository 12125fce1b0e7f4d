"""API tokens: made for a user, shown once, stored as a hash, revoked by token or by id."""

from __future__ import annotations

from liveblog import credentials
from liveblog.domain.audit import AuditAction
from liveblog.domain.errors import NotAuthenticated, NotFound
from liveblog.domain.models import User
from liveblog.usecases.core import Core
from liveblog.usecases.users import admin_only, user_named


class Tokens(Core):
    def create_token(self, user_name: str, by: User | None = None) -> str:
        admin_only(by)
        token = credentials.new_token()
        with self.door.write() as unit:
            user = unit.tx.user_by_name(user_name)
            if user is None:
                raise NotFound(f"no user named {user_name!r}")
            unit.tx.insert_token(user.id, credentials.hash_token(token), unit.now)
            unit.record(by, [(AuditAction.TOKEN_CREATE, {"user": user.name})])
        return token

    def revoke_token(self, token: str, by: User | None = None) -> None:
        """Stop a token working at once (kept, revoked, for a while: see
        scheduler.run_retention)."""
        admin_only(by)
        hashed = credentials.hash_token(token)
        with self.door.write() as unit:
            owner = unit.tx.user_by_token_hash(hashed)
            if owner is None or not unit.tx.revoke_token(hashed, unit.now):
                raise NotFound("no such active API token")
            unit.record(by, [(AuditAction.TOKEN_REVOKE, {"user": owner.name})])

    def revoke_token_id(self, name: str, token_id: int, by: User | None = None) -> None:
        """Stop the user's API token with this id working at once (the admin page knows a
        token by its id; the plain token is never stored)."""
        admin_only(by)
        with self.door.write() as unit:
            user = user_named(unit.tx, name)
            if not unit.tx.revoke_token_id(token_id, user.id, unit.now):
                raise NotFound(f"{name} has no active API token #{token_id}")
            detail = {"user": user.name, "token": token_id}
            unit.record(by, [(AuditAction.TOKEN_REVOKE, detail)])

    def user_for_token(self, token: str) -> User:
        with self.store.read() as tx:
            user = tx.user_by_token_hash(credentials.hash_token(token))
        if user is None or user.disabled:
            raise NotAuthenticated("the API token is unknown or revoked")
        return user
