"""What every channel shares: the message it is given and the errors it raises.

A channel delivers one message to one address. It renders the message itself
(its templates are its own), so a template fault is that message's failure,
found at delivery, never a stall of the classification that queued it.

A notifier answers with nothing (accepted) or raises `DeliveryError`:
`permanent=True` stops retries (a 5xx, a template fault, an address the server
cannot take); `permanent=False` backs off and retries; `config=True` says the
channel itself is misconfigured (a refused login, a certificate that is not
trusted): no message can go until a person fixes it, so delivery pauses the
whole channel, records the problem and probes again every few minutes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


class DeliveryError(Exception):
    def __init__(self, detail: str, permanent: bool, *, config: bool = False, hint: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.permanent = permanent and not config
        self.config = config
        self.hint = hint  # what a person should check, for configuration problems


@dataclass(frozen=True)
class Message:
    """One queued message as a channel sees it (an outbox row, read-only).

    `template` names what to render ("alert" serves reminders and escalations
    too) and `context` holds what it needs, as JSON data taken when the message
    was queued. `message_id`/`in_reply_to` thread an alert's messages; when
    `message_id` is None the channel derives a stable one from `id`.
    `raw` is set only for messages queued before rendering moved to delivery.
    """

    id: int
    kind: str
    channel: str
    address: str
    template: str
    context: dict = field(default_factory=dict)
    created_at: datetime | None = None
    message_id: str | None = None
    in_reply_to: str | None = None
    raw: str | None = None


class Notifier(Protocol):
    def notify(self, message: Message) -> None:
        """Deliver one message to its address, or raise DeliveryError."""

    def close(self) -> None:
        """Release connections held across one delivery run."""
