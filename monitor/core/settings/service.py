"""The sections about the setting and the service itself: who it is, its
database, web pages, email, people, routing, classifier, digest, escalation,
health, logs and how long data is kept."""
from __future__ import annotations

import re
from datetime import time as dtime
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from monitor.core.settings.values import (
    Duration,
    Platform,
    Role,
    SeverityName,
    _Section,
    email_address,
    is_host_name,
    is_local_host,
)
from monitor.core.types import Category

class SettingConfig(_Section):
    name: str = Field(min_length=1, pattern=r"\S")  # not blank: emails, pages and the classifier use it
    slug: str | None = Field(None, alias="key")  # `key` (or `slug`): stable id of the setting in a shared database
    aliases: list[str] = []
    town: str | None = None
    timezone: str = "Europe/London"
    public_phone: str | None = None  # the setting's own number is not a leak
    public_address: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use an IANA name such as 'Europe/London')")
        return v

    @property
    def key(self) -> str:
        return self.slug or re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class RosterConfig(_Section):
    """Names the classifier should recognise. Kept out of logs and subjects."""

    children: list[str] = []
    staff: list[str] = []
    parents: list[str] = []
    rooms: list[str] = []


class DatabaseConfig(_Section):
    url: str = "sqlite:///data/nurserywatch.db"

    @field_validator("url")
    @classmethod
    def _supported(cls, v: str) -> str:
        if not v.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ValueError("use a sqlite:/// path or a postgresql:// URL")
        from sqlalchemy.engine import make_url  # here: `classify` reads settings and starts faster without SQLAlchemy
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(v)
        except ArgumentError:
            raise ValueError("not a database URL: write sqlite:///path/to/file.db or "
                             "postgresql://user@host:5432/name") from None
        return v

    @property
    def in_memory(self) -> bool:
        """An SQLite database in memory: it would forget every alert, cursor and acknowledgement at exit."""
        from sqlalchemy.engine import make_url

        u = make_url(self.url)
        return u.get_backend_name() == "sqlite" and u.database in (None, "", ":memory:")


MIN_SIGNING_KEY = 32  # characters of the link-signing key (itsdangerous HMAC-SHA1; 32 random ones is ample)


class WebConfig(_Section):
    listen: str = "127.0.0.1:8080"
    base_url: str = "http://127.0.0.1:8080"
    secret_key_env: str = "NURSERYWATCH_SECRET_KEY"
    link_max_age: Duration = 14 * 86400

    @field_validator("link_max_age")
    @classmethod
    def _long_enough_to_read(cls, v: int) -> int:
        if v < 3600:  # read on a phone between nappy changes: a link dead within the hour is no link
            raise ValueError(f"{v} s is too short for an acknowledgement link: at least 1h (default 14d)")
        return v

    @field_validator("listen")
    @classmethod
    def _host_port(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("expected HOST:PORT such as '127.0.0.1:8080'")
        return v

    @field_validator("base_url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        url = urlsplit(v)
        if not url.hostname or any(c.isspace() for c in v) or url.query or url.fragment:
            raise ValueError(f"{v!r} cannot start the links in emails: give the address people open, such as "
                             "'https://watch.example.org' (a host, no spaces, no ? or #)")
        return v.rstrip("/")

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0]

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class EmailConfig(_Section):
    from_: str = Field("nurserywatch@localhost", alias="from")
    smtp_host: str | None = None  # absent: write .eml files to outbox_dir
    smtp_port: int = Field(587, gt=0, lt=65536)
    smtp_starttls: bool | None = None  # default: on, unless smtp_tls is
    smtp_tls: bool = False  # implicit TLS (port 465)
    smtp_timeout: Duration = 30
    smtp_username_env: str | None = None
    smtp_password_env: str | None = None
    outbox_dir: str = "data/outbox"
    retry_for: Duration = 2 * 86400  # keep retrying temporary failures this long
    allow_insecure: bool = False  # a login to a non-local server without TLS; needs insecure_reason
    insecure_reason: str | None = None

    @field_validator("from_")
    @classmethod
    def _valid_from(cls, v: str) -> str:
        return email_address(v, local_ok=True)

    @field_validator("smtp_host")
    @classmethod
    def _host_name(cls, v: str | None) -> str | None:
        if v is None or is_host_name(v):
            return v
        raise ValueError(f"{v!r} is not a host name or IP address (for example smtp.example.org)")

    @model_validator(mode="after")
    def _one_tls_mode(self) -> "EmailConfig":
        if self.smtp_tls and self.smtp_starttls:
            raise ValueError("choose smtp_tls (implicit TLS) or smtp_starttls, not both")
        if self.smtp_starttls is None:
            object.__setattr__(self, "smtp_starttls", not self.smtp_tls)
        return self

    @model_validator(mode="after")
    def _no_clear_text_login(self) -> "EmailConfig":
        """A username and password sent to another machine without TLS can be read on the way."""
        login = self.smtp_username_env or self.smtp_password_env
        if not (self.smtp_host and login) or self.smtp_tls or self.smtp_starttls or is_local_host(self.smtp_host):
            return self
        if not self.allow_insecure:
            raise ValueError(f"the SMTP login to {self.smtp_host} would be sent without encryption: set smtp_starttls "
                             "= true (or smtp_tls = true), or set allow_insecure = true and say why in insecure_reason")
        if not (self.insecure_reason or "").strip():
            raise ValueError("allow_insecure = true needs insecure_reason: say why a clear-text SMTP login is safe here")
        return self


class RecipientConfig(_Section):
    name: str = Field(min_length=1)
    email: str
    roles: list[Role] = Field(min_length=1)
    known_as: list[str] = []  # names they go by in comments ("Miss Sarah")
    addresses: dict[str, str] = {}  # other channels: name of a [channels.<name>] section -> address

    @field_validator("email")
    @classmethod
    def _valid_email(cls, v: str) -> str:
        return email_address(v).lower()


class RouteMatch(_Section):
    category: list[Category] = []
    severity: list[SeverityName] = []
    platform: list[Platform] = []


class RouteConfig(_Section):
    """One node of the routing tree; children inherit `to` and `when`."""

    match: RouteMatch = RouteMatch()
    to: list[Role] | None = None
    when: Literal["immediate", "digest"] | None = None
    continue_: bool = Field(False, alias="continue")
    routes: list["RouteConfig"] = []


class ClassifierConfig(_Section):
    """How readily the classifier raises each label (docs/classifier.md, "Sensitivity").

    `sensitivity = "high"` uses the thresholds fitted for higher recall (more
    alerts, more false alarms); `thresholds` overrides a label's threshold on
    the calibrated score, 0..1 (e.g. `thresholds = { criticism = 0.7 }`).
    `semantic = true` turns on the optional semantic stage (docs/classifier.md,
    "Semantic stage"), which needs its model installed; start-up says so if not.
    """

    sensitivity: Literal["normal", "high"] = "normal"
    thresholds: dict[Category, float] = {}
    semantic: bool = False

    @field_validator("thresholds")
    @classmethod
    def _in_range(cls, v: dict[str, float]) -> dict[str, float]:
        for label, t in v.items():
            if not 0.0 < t < 1.0:
                raise ValueError(f"the threshold for {label} must be between 0 and 1 (got {t})")
        return v


class DigestConfig(_Section):
    enabled: bool = True
    at: dtime = dtime(7, 30)  # local time in [setting].timezone

    @field_validator("at", mode="before")
    @classmethod
    def _hhmm(cls, v: object) -> object:
        if isinstance(v, str) and not re.fullmatch(r"\d{1,2}:\d{2}", v):
            raise ValueError("expected a local time such as '07:30'")
        return v


class EscalationConfig(_Section):
    safeguarding_after: Duration = 30 * 60
    other_after: Duration = 4 * 3600
    max_steps: int = Field(3, ge=0, le=10)


class HealthConfig(_Section):
    """What /readyz tolerates, and the optional dead-man's switch."""

    ping_url_env: str | None = None  # env var holding a healthchecks-style URL pinged after each healthy cycle
    account_failing_for: Duration = 3600  # an account failing longer than this makes /readyz not ready
    ping_timeout: Duration = 10


class LoggingConfig(_Section):
    format: Literal["text", "json"] = "text"


class RetentionConfig(_Section):
    """How long personal data is kept; the reasoning is in docs/data-protection.md."""

    unflagged_after: Duration = 30 * 86400  # text and author of items that raised nothing
    sent_email_after: Duration = 30 * 86400  # bodies of sent emails (the dedup key stays, so nothing is re-sent)
    closed_alerts_after: Duration = 90 * 86400  # confidentiality and criticism alerts, after a person closes them
    closed_safeguarding_after: Duration = 6 * 365 * 86400  # safeguarding alerts, after closing
    vacuum_every: Duration = 7 * 86400  # SQLite: rewrite the file so erased text leaves the free pages
    labelled_examples_after: Duration = 365 * 86400  # copies of comments a person labelled, to teach the classifier
    sign_ins_after: Duration = 7 * 86400  # web sessions and sign-in links, after they ended or expired
