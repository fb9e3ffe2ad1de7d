"""A forwarded email -> FetchedItem, or the reason it is ignored. Pure functions, no I/O.

Only senders on the allow-list count (a full address, or "@domain" for a
whole domain); mail the receiving server marked as failing DMARC is ignored
even from an allowed address, since its From line cannot be trusted. The
item's text is the subject (without Fwd:/Re:) and the body (plain text
preferred, else the HTML as text); the original link is the first web
address in the body.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr, parsedate_to_datetime

from connectors.feeds.parse import plain_text
from monitor.core.types import FetchedItem

MAX_ID = 200
_PREFIX = re.compile(r"^\s*((fwd?|fw|re|aw|tr)\s*:\s*)+", re.IGNORECASE)
_URL = re.compile(r"https?://[^\s<>\"')\]]+")
_DMARC_FAIL = re.compile(r"\bdmarc\s*=\s*fail\b", re.IGNORECASE)


@dataclass(frozen=True)
class Ignored:
    reason: str  # never quotes the mail: logged by uid


def allowed(sender: str, allow: list[str]) -> bool:
    sender = sender.lower()
    for entry in allow:
        entry = entry.strip().lower()
        if entry.startswith("@") and sender.endswith(entry):
            return True
        if entry == sender:
            return True
    return False


def message_item(raw: bytes, uid: int, uidvalidity: str, allow: list[str], fallback_time: datetime) -> FetchedItem | Ignored:
    try:
        msg = message_from_bytes(raw, policy=policy.default)
    except Exception as err:  # the parser is lenient; this is a broken byte stream
        return Ignored(f"unreadable message ({type(err).__name__})")
    sender = parseaddr(str(msg.get("From", "")))[1]
    if not sender or not allowed(sender, allow):
        return Ignored("sender not on the allow-list")
    if any(_DMARC_FAIL.search(str(h)) for h in msg.get_all("Authentication-Results", [])):
        return Ignored("the receiving server says the sender failed DMARC")
    subject = _PREFIX.sub("", " ".join(str(msg.get("Subject", "")).split()))
    body = _body(msg)
    text = "\n\n".join(t for t in (subject, body) if t)
    if not body.strip():
        return Ignored("no text in the message")
    key = str(msg.get("Message-ID", "")).strip().strip("<>") or f"{uidvalidity}:{uid}"
    if len(key) > MAX_ID:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    link = _URL.search(body)
    return FetchedItem(
        external_id=key,
        kind="mention",
        text=text,
        created_at=_date(msg) or fallback_time,
        permalink=link.group(0).rstrip(".,;") if link else None,
        can_hide=False,
        source=f"email forwarded by {sender.lower()}",
    )


def _body(msg: EmailMessage) -> str:
    """The plain-text part, or the HTML part as text when the plain one is missing or empty."""
    for kind in ("plain", "html"):
        part = msg.get_body(preferencelist=(kind,))
        if part is not None and (text := _text(part)).strip():
            return text
    return ""


def _text(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):  # unknown charset, broken encoding
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace")
    if not isinstance(content, str):
        return ""
    return plain_text(content) if part.get_content_subtype() == "html" else content.strip()


def _date(msg: EmailMessage) -> datetime | None:
    try:
        when = parsedate_to_datetime(str(msg.get("Date", "")))
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
