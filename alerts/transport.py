"""Email transports: real SMTP, or .eml files in a folder when no SMTP is set.

A transport has one method, `send`, and raises DeliveryError(permanent=...):
a 5xx answer is permanent, a 4xx answer or a refused connection is not.
"""
from __future__ import annotations

import os
import smtplib
import ssl
import tempfile
from email.message import EmailMessage
from email import policy as email_policy
from pathlib import Path
from typing import Protocol


class DeliveryError(Exception):
    def __init__(self, detail: str, permanent: bool):
        super().__init__(detail)
        self.detail = detail
        self.permanent = permanent


class Transport(Protocol):
    def send(self, raw: str, from_addr: str, to_addr: str) -> None: ...


def _code_error(code: int, what: str) -> DeliveryError:
    return DeliveryError(f"{what}: SMTP {code}", permanent=500 <= code < 600)


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
    ):
        self.host, self.port = host, port
        self.starttls, self.tls = starttls, tls
        self.username, self.password = username, password
        self.timeout = timeout
        self.ssl_context = ssl_context  # None: the system's trusted CAs, hostname checked

    def send(self, raw: str, from_addr: str, to_addr: str) -> None:
        context = self.ssl_context or ssl.create_default_context()
        try:
            if self.tls:
                conn = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with conn:
                if self.starttls and not self.tls:
                    conn.starttls(context=context)
                if self.username:
                    conn.login(self.username, self.password or "")
                refused = conn.sendmail(from_addr, [to_addr], raw.encode("utf-8"))
                if refused:  # only reachable with several recipients; kept for safety
                    code = next(iter(refused.values()))[0]
                    raise _code_error(code, "recipient refused")
        except smtplib.SMTPRecipientsRefused as err:
            code = next(iter(err.recipients.values()))[0]
            raise _code_error(code, "recipient refused") from None
        except smtplib.SMTPAuthenticationError as err:
            raise DeliveryError(f"SMTP login refused: {err.smtp_code}", permanent=False) from None
        except smtplib.SMTPResponseException as err:
            raise _code_error(err.smtp_code, "server refused the message") from None
        except (smtplib.SMTPException, OSError) as err:
            raise DeliveryError(f"cannot reach SMTP server {self.host}:{self.port}: {type(err).__name__}", permanent=False) from None


class FileTransport:
    """Writes each message as an .eml file (the demo's and a no-SMTP setup's outbox)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def send(self, raw: str, from_addr: str, to_addr: str) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(raw)
            existing = len(list(self.folder.glob("*.eml")))
            os.replace(tmp, self.folder / f"{existing + 1:05d}-{os.path.basename(tmp)[3:-4]}.eml")
        except OSError as err:
            raise DeliveryError(f"cannot write to {self.folder}: {err.strerror}", permanent=False) from None


def as_raw(msg: EmailMessage) -> str:
    return msg.as_string(policy=email_policy.SMTP)
