"""A dedicated mailbox, read over IMAP with TLS: the route for closed groups and everything else.

No API can read a closed parents' Facebook group (since April 2024), nor a
WhatsApp chat or a screenshot. Staff forward the post, paste the screenshot's
text, or let the group's notification emails to its admin be forwarded to a
mailbox only nurserywatch reads. Each new message from an allowed sender
becomes an item (subject and text, received time, original link when there
is one) and is classified like any comment; messages from anyone else are
skipped (counted in the log by uid, never stored).

The standard library's imaplib does the IMAP (TLS on connect, port 993, or
STARTTLS), in a worker thread so the event loop keeps running. The mailbox
is opened read-only and messages are read with BODY.PEEK[], so nothing is
marked or moved.

Cursor: ("mail", folder)  {"uidvalidity": v, "last_uid": n}
If the server's UIDVALIDITY changes (the folder was recreated), the folder is
read again from the start; Message-IDs keep that from storing anything twice.
"""
from __future__ import annotations

import asyncio
import imaplib
import logging
import ssl
from datetime import datetime
from typing import AsyncIterator, Callable, Mapping

import httpx

from connectors.auth import Credentials, as_credentials
from connectors.base import AuthFailed, Batch, CursorKey, HideRefused, Misconfigured, TemporaryFailure
from connectors.mailbox.parse import Ignored, message_item
from monitor.core.settings import AccountConfig

log = logging.getLogger(__name__)

TIMEOUT = 30.0


class MailboxConnector:
    platform = "mailbox"

    def __init__(self, account: AccountConfig, credentials: Credentials | str | None,
                 client: httpx.AsyncClient | None, clock: Callable[[], datetime]):
        self.account = account
        self.options = account.options
        self.credentials = as_credentials(credentials)
        self.clock = clock

    @property
    def cursor_key(self) -> CursorKey:
        return ("mail", self.options.folder)

    async def fetch(self, cursors: Mapping[CursorKey, dict]) -> AsyncIterator[Batch]:
        state = cursors.get(self.cursor_key) or {}
        password = await self.credentials.token()
        validity, messages = await asyncio.to_thread(self._read, password, state)
        last = int(state.get("last_uid", 0)) if state.get("uidvalidity") == validity else 0
        items, ignored = [], 0
        for uid, raw in messages:
            found = message_item(raw, uid, validity, list(self.options.allow), self.clock())
            if isinstance(found, Ignored):
                ignored += 1
                log.info("mailbox %s: message uid %s ignored: %s", self.account.id, uid, found.reason)
            else:
                items.append(found)
            last = max(last, uid)
        if messages or state.get("uidvalidity") != validity:
            yield Batch(items=items, cursors={self.cursor_key: {"uidvalidity": validity, "last_uid": last}})

    def _read(self, password: str, state: dict) -> tuple[str, list[tuple[int, bytes]]]:
        o = self.options
        context = ssl.create_default_context(cafile=o.ca_file)
        try:
            if o.starttls:
                imap = imaplib.IMAP4(o.host, o.port, timeout=TIMEOUT)
                imap.starttls(ssl_context=context)
            else:
                imap = imaplib.IMAP4_SSL(o.host, o.port, ssl_context=context, timeout=TIMEOUT)
        except ssl.SSLError as err:
            raise Misconfigured(f"mailbox {self.account.id}: TLS with {o.host} failed ({err.reason or type(err).__name__})") from None
        except (OSError, imaplib.IMAP4.error) as err:
            raise TemporaryFailure(f"mailbox {self.account.id}: cannot reach {o.host}:{o.port} ({type(err).__name__})") from None
        try:
            return self._session(imap, password, state)
        except (OSError, imaplib.IMAP4.abort) as err:
            raise TemporaryFailure(f"mailbox {self.account.id}: the connection failed ({type(err).__name__})") from None
        finally:
            try:
                imap.logout()
            except (OSError, imaplib.IMAP4.error):
                pass

    def _session(self, imap: imaplib.IMAP4, password: str, state: dict) -> tuple[str, list[tuple[int, bytes]]]:
        o = self.options
        try:
            imap.login(o.username, password)
        except imaplib.IMAP4.error:
            raise AuthFailed(f"mailbox {self.account.id}: the server refused the login for {o.username}") from None
        typ, _ = imap.select(_quote(o.folder), readonly=True)
        if typ != "OK":
            raise Misconfigured(f"mailbox {self.account.id}: there is no folder {o.folder!r}")
        validity = (imap.response("UIDVALIDITY")[1] or [b""])[0]
        validity = validity.decode() if isinstance(validity, bytes) else str(validity or "")
        last = int(state.get("last_uid", 0)) if state.get("uidvalidity") == validity else 0
        typ, data = imap.uid("SEARCH", None, f"UID {last + 1}:*")
        if typ != "OK":
            raise TemporaryFailure(f"mailbox {self.account.id}: the server refused the search")
        uids = sorted(u for u in (int(x) for x in (data[0] or b"").split()) if u > last)[: o.max_per_poll]
        out = []
        for uid in uids:
            typ, data = imap.uid("FETCH", str(uid), "(BODY.PEEK[])")
            raw = next((part[1] for part in data if isinstance(part, tuple) and len(part) > 1), None)
            if typ != "OK" or raw is None:
                log.info("mailbox %s: message uid %s could not be read; skipped", self.account.id, uid)
                raw = b""
            out.append((uid, raw))
        return validity, out

    async def hide(self, external_id: str, hidden: bool = True) -> None:
        raise HideRefused("mailbox: this was forwarded by email; report it where it was posted")


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
