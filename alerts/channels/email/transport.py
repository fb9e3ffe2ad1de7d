"""Email transports: real SMTP, or .eml files in a folder when no SMTP is set.

A transport has `send(message, from_addr, to_addr)` and `close()`, and raises
DeliveryError: a 5xx answer is permanent, a 4xx answer or a refused connection
is temporary, a refused login or a failed TLS handshake is a configuration
problem (`config=True`, with the server's reply and what to check).

`SmtpTransport` keeps one connection open across the messages of a delivery
run (`close()` ends it) and builds its TLS context once, only when TLS is on.
One SMTP conversation runs on it at a time: a group's settings share one
transport and deliver from their own worker threads, and two threads' commands
interleaved on one connection get 503 replies that refuse the message for good.
An address that needs SMTPUTF8 (`zoë@...`) is sent with it when the server
offers it, and refused clearly (permanently) when it does not.
"""
from __future__ import annotations

import os
import smtplib
import ssl
import tempfile
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from alerts.channels.base import DeliveryError

TLS_HINT = "check email.smtp_host, smtp_port and smtp_tls / smtp_starttls, and that this machine trusts the server's certificate"


class Transport(Protocol):
    def send(self, message: EmailMessage | str, from_addr: str, to_addr: str) -> None: ...

    def close(self) -> None: ...


def _code_error(code: int, what: str) -> DeliveryError:
    return DeliveryError(f"{what}: SMTP {code}", permanent=500 <= code < 600)


def _reply(err: smtplib.SMTPResponseException) -> str:
    text = err.smtp_error.decode("utf-8", "replace") if isinstance(err.smtp_error, bytes) else str(err.smtp_error)
    return f"{err.smtp_code} {' '.join(text.split())}"


def _as_bytes(message: EmailMessage | str) -> bytes:
    if isinstance(message, str):  # a message rendered before delivery did it (legacy outbox rows)
        return message.encode("utf-8")
    return message.as_bytes(policy=message.policy)


class SmtpTransport:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        starttls: bool,
        tls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30,
        ssl_context: ssl.SSLContext | None = None,
        credentials_hint: str = "check the SMTP username and password",
    ):
        self.host, self.port = host, port
        self.starttls, self.tls = starttls, tls
        self.username, self.password = username, password
        self.timeout = timeout
        self.ssl_context = ssl_context  # None: the system's trusted CAs, hostname checked (built on first use)
        self.credentials_hint = credentials_hint
        self._conn: smtplib.SMTP | None = None
        self._turn = threading.Lock()  # one conversation on the connection at a time
        self.connections = 0  # opened so far (one per run when all goes well)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def _tls_context(self) -> ssl.SSLContext:
        if self.ssl_context is None:
            self.ssl_context = ssl.create_default_context()
        return self.ssl_context

    def _connect(self) -> smtplib.SMTP:
        if self.tls:
            conn = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._tls_context())
        else:
            conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            conn.ehlo()
            if self.starttls and not self.tls:
                conn.starttls(context=self._tls_context())
                conn.ehlo()
            if self.username:
                conn.login(self.username, self.password or "")
        except BaseException:
            conn.close()
            raise
        self.connections += 1
        return conn

    def _send_on(self, conn: smtplib.SMTP, message: EmailMessage | str, from_addr: str, to_addr: str) -> None:
        options: list[str] = []
        if not (from_addr.isascii() and to_addr.isascii()):
            conn.ehlo_or_helo_if_needed()
            if not conn.has_extn("smtputf8"):
                raise DeliveryError(
                    f"the address is internationalised and {self.where} does not offer SMTPUTF8; "
                    "give this person an ASCII address", permanent=True)
            options = ["SMTPUTF8", "BODY=8BITMIME"]
        refused = conn.sendmail(from_addr, [to_addr], _as_bytes(message), mail_options=options)
        if refused:  # only reachable with several recipients; kept for safety
            raise _code_error(next(iter(refused.values()))[0], "recipient refused")

    def send(self, message: EmailMessage | str, from_addr: str, to_addr: str) -> None:
        with self._turn:
            self._send(message, from_addr, to_addr)

    def _send(self, message: EmailMessage | str, from_addr: str, to_addr: str) -> None:
        for attempt in (1, 2):
            reused = self._conn is not None
            try:
                if self._conn is None:
                    self._conn = self._connect()
                self._send_on(self._conn, message, from_addr, to_addr)
                return
            except smtplib.SMTPServerDisconnected:
                self._drop()
                if reused and attempt == 1:
                    continue  # the server closed a connection we kept: once more on a fresh one
                raise DeliveryError(f"SMTP server {self.where} closed the connection", permanent=False) from None
            except DeliveryError:
                raise
            except Exception as err:
                raise self._classify(err) from None

    def _classify(self, err: Exception) -> DeliveryError:
        """Turn an smtplib/ssl/socket error into a DeliveryError (dropping the
        connection unless the server only refused this one message)."""
        if isinstance(err, smtplib.SMTPRecipientsRefused):
            return _code_error(next(iter(err.recipients.values()))[0], "recipient refused")
        if isinstance(err, (smtplib.SMTPSenderRefused, smtplib.SMTPDataError)):
            return _code_error(err.smtp_code, "server refused the message")
        self._drop()
        if isinstance(err, smtplib.SMTPAuthenticationError):
            return DeliveryError(f"SMTP login refused by {self.where}: {_reply(err)}", permanent=True, config=True,
                                 hint=self.credentials_hint)
        if isinstance(err, smtplib.SMTPNotSupportedError):
            return DeliveryError(f"SMTP server {self.where} does not support {err}", permanent=True, config=True,
                                 hint=TLS_HINT)
        if isinstance(err, ssl.SSLError):  # includes an untrusted or mismatched certificate
            reason = getattr(err, "verify_message", None) or getattr(err, "reason", None) or type(err).__name__
            return DeliveryError(f"TLS with SMTP server {self.where} failed: {reason}", permanent=True, config=True,
                                 hint=TLS_HINT)
        if isinstance(err, smtplib.SMTPResponseException):
            return _code_error(err.smtp_code, f"SMTP server {self.where} refused")
        if isinstance(err, (smtplib.SMTPException, OSError)):
            return DeliveryError(f"cannot reach SMTP server {self.where}: {type(err).__name__}", permanent=False)
        return DeliveryError(f"unexpected {type(err).__name__} while sending through {self.where}", permanent=True)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except OSError:
                pass

    def close(self) -> None:
        with self._turn:  # not in the middle of another thread's message
            conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()


class FileTransport:
    """Writes each message as an .eml file (the demo's and a no-SMTP setup's outbox)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self._count: int | None = None

    def send(self, message: EmailMessage | str, from_addr: str, to_addr: str) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if self._count is None:
                self._count = len(list(self.folder.glob("*.eml")))
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(_as_bytes(message))
            self._count += 1
            os.replace(tmp, self.folder / f"{self._count:05d}-{os.path.basename(tmp)[3:-4]}.eml")
        except OSError as err:
            raise DeliveryError(f"cannot write to {self.folder}: {err.strerror}", permanent=False) from None

    def close(self) -> None:
        self._count = None
