"""Configuration: one TOML file, validated by pydantic at start.

Errors name the key and the problem (`accounts[0].platform: ...`). Secrets are
never read from the file: the file names environment variables (`*_env` keys)
and `Config.secret()` reads them.

The sections live in `values` (errors, durations, addresses), `service` (the
setting, database, web, email, people, routing and the service's own
behaviour) and `polling` (accounts, concurrency, webhooks); they are all
importable from here.
"""
from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from monitor.core.settings.polling import (
    PER_PLATFORM,
    AccountConfig,
    ConcurrencyConfig,
    MetaWebhookConfig,
    PollingConfig,
    WebhooksConfig,
)
from monitor.core.settings.service import (
    MIN_SIGNING_KEY,
    ClassifierConfig,
    DatabaseConfig,
    DigestConfig,
    EmailConfig,
    EscalationConfig,
    HealthConfig,
    LoggingConfig,
    RecipientConfig,
    RetentionConfig,
    RosterConfig,
    RouteConfig,
    RouteMatch,
    SettingConfig,
    WebConfig,
)
from monitor.core.settings.values import (
    HOST_LABEL,
    ConfigError,
    Duration,
    Platform,
    Role,
    SeverityName,
    _Section,
    email_address,
    is_host_name,
    is_local_host,
    parse_duration,
)


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


__all__ = [
    "HOST_LABEL", "MIN_SIGNING_KEY", "PER_PLATFORM", "AccountConfig", "ClassifierConfig", "ConcurrencyConfig", "Config",
    "ConfigError", "DatabaseConfig", "DigestConfig", "Duration", "EmailConfig", "EscalationConfig", "HealthConfig",
    "LoggingConfig", "MetaWebhookConfig", "Platform", "PollingConfig", "RecipientConfig", "RetentionConfig", "Role",
    "RosterConfig", "RouteConfig", "RouteMatch", "SettingConfig", "SeverityName", "WebConfig", "WebhooksConfig",
    "add_config_option", "config_from_dict", "email_address", "format_errors", "is_host_name", "is_local_host",
    "load_config", "parse_duration",
]
