"""Configuration: one TOML file, validated by pydantic at start.

Errors name the key and the problem (`accounts[0].platform: ...`). Secrets are
never read from the file: the file names environment variables (`*_env` keys)
and `Config.secret()` reads them.
"""
from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from datetime import time as dtime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from monitor.core.platforms import PLATFORMS, PlatformOptions
from monitor.core.types import Category

Platform = Literal["facebook", "instagram", "x", "google", "demo", "x_search", "feeds", "mailbox"]
Role = Literal["manager", "dsl", "deputy", "owner", "admin", "area_manager", "group_dsl"]  # the last two: a group's people
SeverityName = Literal["low", "medium", "high"]


class ConfigError(Exception):
    """A configuration problem, worded for the person who edits the file."""


_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def is_local_host(host: str) -> bool:
    """Loopback only: the one place a plain-http API base cannot be read on the way."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def is_host_name(host: str) -> bool:
    """A DNS name (an internationalised one in its ASCII form) or an IP address."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        pass
    try:
        ascii_name = host.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return 0 < len(ascii_name) <= 253 and all(HOST_LABEL.match(label) for label in ascii_name.split("."))


def parse_duration(value: object) -> int:
    """'90s', '5m', '2h', '1d' or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '5m'")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = int(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    else:
        raise ValueError(f"expected a duration such as '30s', '5m' or '2h', got {value!r}")
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


Duration = Annotated[int, BeforeValidator(parse_duration)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


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


def email_address(value: str, *, local_ok: bool = False) -> str:
    """A checked, normalised address (email-validator, no DNS look-up).

    An internationalised domain is kept in its ASCII (IDNA) form; a local part
    with non-ASCII letters (`zoë@...`) is kept as it is and sent with SMTPUTF8,
    which the SMTP server must offer. `local_ok` accepts `user@localhost`.
    """
    if local_ok and re.fullmatch(r"[^@\s]+@localhost", value):
        return value
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as err:
        raise ValueError(f"{value!r} is not an email address: {err}") from None
    return checked.ascii_email or checked.normalized


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


class AccountConfig(_Section):
    platform: Platform
    id: str = Field(min_length=1)  # page / user / location id
    name: str | None = None
    token_env: str | None = None  # a token managed by hand; absent: `nurserywatch connect` stores one
    allow_insecure: bool = False  # plain http to a non-local api_base; needs insecure_reason
    insecure_reason: str | None = None
    api_base: str | None = None
    # OAuth: the app's credentials and a refresh token, so access tokens renew themselves
    client_id_env: str | None = None
    client_secret_env: str | None = None
    refresh_token_env: str | None = None
    token_url: str | None = None  # the platform's OAuth token endpoint, overridable like api_base
    auth_url: str | None = None  # the platform's OAuth authorisation page, for `connect`
    poll_every: Duration = 300
    request_deadline: Duration = 60  # connect, headers and body of one API request, together
    max_response_mb: int = Field(20, ge=1, le=1000)  # a larger API answer is refused
    options: PlatformOptions = Field(default_factory=dict, validate_default=True)  # monitor.core.platforms

    @field_validator("options", mode="before")
    @classmethod
    def _typed_options(cls, v: object, info: ValidationInfo) -> object:
        facts = PLATFORMS.get(info.data.get("platform", ""))
        if facts is None:
            return PlatformOptions()  # the platform's own error is enough
        if isinstance(v, facts.options):
            return v
        return facts.options.model_validate(v or {})  # its errors carry the key: accounts[0].options.<key>

    @field_validator("api_base", "token_url", "auth_url")
    @classmethod
    def _safe_api_base(cls, v: str | None, info: ValidationInfo) -> str | None:
        """https to the platform (its token, or the app's secret and refresh token, cross on each request)."""
        if v is None:
            return v
        url = urlsplit(v)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"{v!r} is not an http(s) address such as 'https://graph.facebook.com/v21.0'")
        if url.scheme == "http" and not is_local_host(url.hostname):
            if not info.data.get("allow_insecure"):
                raise ValueError(
                    "plain http to a remote host would send the access token in clear: use https, "
                    "or set allow_insecure = true and say why in insecure_reason"
                )
            if not (info.data.get("insecure_reason") or "").strip():
                raise ValueError("allow_insecure = true needs insecure_reason: say why plain http is safe here")
        return v

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, v: object) -> object:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> "AccountConfig":
        if not PLATFORMS[self.platform].needs_token:
            return self
        if self.token_env and self.refresh_token_env:
            raise ValueError("give token_env (a token you renew yourself) or refresh_token_env, not both")
        if self.refresh_token_env and not self.client_id_env:
            raise ValueError("refresh_token_env needs client_id_env (and usually client_secret_env): "
                             "a refresh token is only accepted from the app it was issued to")
        return self

    @property
    def stored_credentials(self) -> bool:
        """True when the token comes from `nurserywatch connect` (kept encrypted in the database)."""
        return PLATFORMS[self.platform].needs_token and not self.token_env and not self.refresh_token_env

    @property
    def label(self) -> str:
        return self.name or f"{self.platform}:{self.id}"


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
    """

    sensitivity: Literal["normal", "high"] = "normal"
    thresholds: dict[Category, float] = {}

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


class ConcurrencyConfig(_Section):
    """How many accounts are polled at once (monitor/limits.py)."""

    total: int = Field(32, ge=1, le=1000)
    per_platform: dict[str, int] = Field(default_factory=dict, validate_default=True)  # merged over PER_PLATFORM
    default_per_platform: int = Field(8, ge=1)
    per_app: int = Field(10, ge=1)  # accounts sharing one app's rate limits

    @field_validator("per_platform", mode="after")
    @classmethod
    def _over_defaults(cls, v: dict[str, int]) -> dict[str, int]:
        if any(n < 1 for n in v.values()):
            raise ValueError("every limit must be at least 1")
        return {**PER_PLATFORM, **v}


# X's search and timeline limits are per app and small; Meta counts per app and Page
PER_PLATFORM = {"facebook": 10, "instagram": 10, "x": 2, "x_search": 1, "google": 5, "feeds": 8, "mailbox": 2}


class MetaWebhookConfig(_Section):
    """Meta (Facebook Page / Instagram) webhooks: POST /webhooks/meta.

    Once events arrive for an account, polling it slows to `reconcile_every`.
    When a reconciliation poll finds a comment no webhook announced (or, if
    `silent_after` is set, when none has come for that long), polling returns
    to the account's poll_every and the admins are told once.
    """

    app_secret_env: str = "META_APP_SECRET"  # the app secret signs every delivery (X-Hub-Signature-256)
    verify_token_env: str = "META_VERIFY_TOKEN"  # the string typed into the app dashboard's "Verify token"
    reconcile_every: Duration = 3600
    silent_after: Duration | None = None  # off by default: a quiet Page is not a broken webhook
    missed_grace: Duration = 600  # a comment older than this that only polling found was missed


class WebhooksConfig(_Section):
    meta: MetaWebhookConfig | None = None


class PollingConfig(_Section):
    """How the daemon polls (see README "A safe first run" and docs/operations)."""

    deadline: Duration = 10 * 60  # an account's poll is abandoned after this; the next resumes from its cursors
    backfill_horizon: Duration = 86400  # on a first poll (or after a longer outage) older comments are summarised


class Config(_Section):
    setting: SettingConfig
    roster: RosterConfig = RosterConfig()
    database: DatabaseConfig = DatabaseConfig()
    web: WebConfig = WebConfig()
    email: EmailConfig = EmailConfig()
    recipients: list[RecipientConfig] = []
    accounts: list[AccountConfig] = []
    routes: list[RouteConfig] = []  # empty: alerts.routing.DEFAULT_ROUTES
    classifier: ClassifierConfig = ClassifierConfig()
    digest: DigestConfig = DigestConfig()
    escalation: EscalationConfig = EscalationConfig()
    health: HealthConfig = HealthConfig()
    logging: LoggingConfig = LoggingConfig()
    retention: RetentionConfig = RetentionConfig()
    webhooks: WebhooksConfig = WebhooksConfig()
    channels: dict[str, dict[str, Any]] = {}  # [channels.<name>]: checked by alerts/channels/<name>
    concurrency: ConcurrencyConfig = ConcurrencyConfig()
    polling: PollingConfig = PollingConfig()
    data_dir: str = "data"

    source: Path | None = Field(None, exclude=True)
    group: str | None = Field(None, exclude=True)  # the group's name when read from a group file (monitor.core.group)

    @model_validator(mode="after")
    def _search_names_from_the_setting(self) -> "Config":
        """An x_search account searches the setting's name, aliases and town unless it names its own."""
        s = self.setting
        accounts = []
        for acc in self.accounts:
            if acc.platform == "x_search":
                o = acc.options
                opts = o.model_copy(update={"names": list(o.names) or [s.name],
                                            "aliases": list(o.aliases) or list(s.aliases),
                                            "town": o.town or s.town})
                acc = acc.model_copy(update={"options": opts})
            accounts.append(acc)
        object.__setattr__(self, "accounts", accounts)
        return self

    @model_validator(mode="after")
    def _unique_accounts(self) -> "Config":
        seen: set[tuple[str, str]] = set()
        for i, acc in enumerate(self.accounts):
            key = (acc.platform, acc.id)
            if key in seen:
                raise ValueError(f"accounts[{i}]: {acc.platform} account {acc.id!r} is listed twice")
            seen.add(key)
        for name in self.channels:
            if name == "email" or not re.fullmatch(r"[a-z][a-z0-9_]{0,29}", name):
                raise ValueError(f"channels.{name}: a channel name is lower-case letters, digits and _, "
                                 "and email is configured in [email]")
        for i, rec in enumerate(self.recipients):
            for name in rec.addresses:
                if name not in self.channels:
                    raise ValueError(f"recipients[{i}].addresses.{name}: there is no [channels.{name}] section")
        return self

    @property
    def setting_data_dir(self) -> Path:
        """Where the files of this setting alone go (its corrections): data_dir, or in a group data_dir/settings/<key>."""
        return Path(self.data_dir) if self.group is None else Path(self.data_dir) / "settings" / self.setting.key

    def secret(self, env_name: str | None, what: str) -> str:
        """Read a secret from the environment variable the config names."""
        if not env_name:
            raise ConfigError(f"{what}: no environment variable is named for it")
        value = os.environ.get(env_name)
        if not value:
            raise ConfigError(f"{what}: environment variable {env_name} is not set")
        return value

    def check_runnable(self) -> list[str]:
        """Problems that stop the daemon (but not `classify`) from running."""
        problems = []
        if not self.accounts:
            problems.append("accounts: no [[accounts]] to watch")
        if not self.recipients:
            problems.append("recipients: no [[recipients]] to alert")
        roles = {r for rec in self.recipients for r in rec.roles}
        for needed in ("dsl", "manager"):
            if self.recipients and needed not in roles:
                problems.append(f"recipients: nobody has the role {needed!r}")
        key, key_env = os.environ.get(self.web.secret_key_env), self.web.secret_key_env
        if not key:
            problems.append(f"web.secret_key_env: environment variable {key_env} is not set")
        elif len(key) < MIN_SIGNING_KEY or key.startswith("change-me"):
            problems.append(f"web.secret_key_env: the link-signing key in {key_env} is "
                            + ("the example's placeholder" if key.startswith("change-me") else f"{len(key)} characters")
                            + f": use at least {MIN_SIGNING_KEY} random ones (a short key lets links be forged), e.g. "
                            "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")
        if self.database.in_memory:
            problems.append("database.url: an in-memory SQLite database forgets every alert and acknowledgement "
                            "when nurserywatch stops: give a file, sqlite:///path/to/nurserywatch.db")
        for i, acc in enumerate(self.accounts):
            for key in ("token_env", "client_id_env", "client_secret_env", "refresh_token_env"):
                env = getattr(acc, key)
                if env and not os.environ.get(env):
                    problems.append(f"accounts[{i}].{key}: environment variable {env} is not set")
            for key, env in acc.options:
                if key.endswith("_env") and env and not os.environ.get(env):
                    problems.append(f"accounts[{i}].options.{key}: environment variable {env} is not set")
        if self.health.ping_url_env and not os.environ.get(self.health.ping_url_env):
            problems.append(f"health.ping_url_env: environment variable {self.health.ping_url_env} is not set")
        if meta := self.webhooks.meta:
            for key in ("app_secret_env", "verify_token_env"):
                if not os.environ.get(getattr(meta, key)):
                    problems.append(f"webhooks.meta.{key}: environment variable {getattr(meta, key)} is not set")
        for key in ("smtp_username_env", "smtp_password_env"):
            env = getattr(self.email, key)
            if self.email.smtp_host and env and not os.environ.get(env):
                problems.append(f"email.{key}: environment variable {env} is not set")
        return problems


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def format_errors(err: ValidationError, source: str) -> str:
    lines = [f"{source}: {err.error_count()} problem(s) in the configuration"]
    for e in err.errors():
        loc = tuple(e["loc"])
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling against config/example.toml)"
        elif e["type"] == "missing":
            msg = "required key is missing"
        msg = msg.removeprefix("Value error, ")
        if not loc and re.match(r"^[\w\[\].]+: ", msg):
            lines.append(f"  {msg}")  # a model-level check that names its own key
        else:
            lines.append(f"  {_loc(loc)}: {msg}")
    return "\n".join(lines)


def config_from_dict(data: dict, source: str = "<config>") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_errors(err, source)) from None


def load_config(path: str | os.PathLike) -> Config:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as err:
        raise ConfigError(f"{p}: cannot read the configuration file ({err.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{p}: not valid TOML: {err}") from None
    cfg = config_from_dict(data, str(p))
    return cfg.model_copy(update={"source": p})


def add_config_option(parser, *, one_setting: bool = True) -> None:
    """The `--config FILE` option every command that reads a configuration takes,
    and `--setting KEY` for those that act on one setting of a group."""
    parser.add_argument("--config", "-c", required=True, metavar="FILE", help="the TOML configuration file")
    if one_setting:
        parser.add_argument("--setting", metavar="KEY", default=None,
                            help="the setting to act on, by its [setting] key (needed when the group has several)")
