"""What the browser carries, signed: the session cookie and the CSRF tokens derived from it.

The key is the configured one (LIVEBLOG_SECRET_KEY) or the secret kept in the database, made by
the first node that needs it, so every node signs and checks with the same key.
"""

from __future__ import annotations

from liveblog import credentials
from liveblog.service import Liveblog
from liveblog.usecases.sessions import SignedIn

SIGNING_KEY = "session-signing-key"
"""The name of the shared secret in the database."""


class Signer:
    def __init__(self, svc: Liveblog, configured: bytes | None = None) -> None:
        self.svc = svc
        self._key = configured

    def key(self) -> bytes:
        if self._key is None:
            self._key = self.svc.shared_secret(SIGNING_KEY).encode()
        return self._key

    # --- the session cookie -----------------------------------------------------------------

    def session_cookie(self, signed_in: SignedIn) -> str:
        return credentials.sign(self.key(), "session", signed_in.session_id)

    def session_id(self, cookie: str) -> str | None:
        """The session id a cookie carries, or None when its signature does not match."""
        return credentials.unsign(self.key(), "session", cookie)

    # --- CSRF tokens ------------------------------------------------------------------------

    def csrf_token(self, signed_in: SignedIn) -> str:
        """The token every state-changing request of this session must carry: derived from the
        session id, which a page on another site cannot read."""
        return credentials.mac(self.key(), "csrf", signed_in.session_id)

    def csrf_ok(self, signed_in: SignedIn, token: str | None) -> bool:
        return bool(token) and credentials.mac_matches(
            self.key(), "csrf", signed_in.session_id, token or ""
        )

    def login_csrf_token(self, nonce: str) -> str:
        """The login form's token, for the random `nonce` in the browser's login cookie: a
        page on another site can neither read the cookie nor make a matching token."""
        return credentials.mac(self.key(), "login-csrf", nonce)

    def login_csrf_ok(self, nonce: str, token: str | None) -> bool:
        return bool(nonce and token) and credentials.mac_matches(
            self.key(), "login-csrf", nonce, token or ""
        )
