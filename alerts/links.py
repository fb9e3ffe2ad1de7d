"""Signed, expiring action links (itsdangerous).

The token carries only an alert id and a recipient id: no names, no email
addresses, no comment text (links end up in scanner logs and browser history).
Each action has its own salt, so an acknowledgement token cannot hide a comment.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

ACTIONS = ("ack", "hide", "login")  # login: (sign-in row id, recipient id), expiry from the row


class LinkError(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason  # "expired" | "invalid"


@dataclass(frozen=True)
class LinkClaims:
    alert_id: int
    recipient_id: int


class LinkSigner:
    def __init__(self, secret_key: str, base_url: str, max_age: int):
        if len(secret_key) < 16:
            raise ValueError("the link-signing key must be at least 16 characters")
        self._secret = secret_key
        self.base_url = base_url.rstrip("/")
        self.max_age = max_age

    def _serializer(self, action: str) -> URLSafeTimedSerializer:
        if action not in ACTIONS:
            raise ValueError(f"unknown link action {action!r}")
        return URLSafeTimedSerializer(self._secret, salt=f"nurserywatch.{action}")

    def token(self, action: str, alert_id: int, recipient_id: int) -> str:
        return self._serializer(action).dumps([alert_id, recipient_id])

    def url(self, action: str, alert_id: int, recipient_id: int) -> str:
        return f"{self.base_url}/{action[0]}/{self.token(action, alert_id, recipient_id)}"

    def mac(self, purpose: str, value: str) -> str:
        """A keyed hash of `value` for `purpose` (CSRF tokens bound to a cookie)."""
        return hmac.new(self._secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()

    def verify(self, action: str, token: str) -> LinkClaims:
        try:
            payload = self._serializer(action).loads(token, max_age=self.max_age)
        except SignatureExpired:
            raise LinkError("expired") from None
        except BadSignature:
            raise LinkError("invalid") from None
        if not (isinstance(payload, list) and len(payload) == 2 and all(isinstance(x, int) for x in payload)):
            raise LinkError("invalid")
        return LinkClaims(alert_id=payload[0], recipient_id=payload[1])
