"""Everything a running nurserywatch needs, built once from the config."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

import httpx
from sqlalchemy.orm import Session, sessionmaker

from alerts.service import AlertEnv
from alerts.transport import FileTransport, SmtpTransport, Transport
from classifiers import Classifier, build_classifier
from connectors import build_connector
from connectors.base import Connector
from monitor.core.db import open_database
from monitor.core.models import Account
from monitor.core.settings import Config, ConfigError
from monitor.core.store import fingerprint, sync_config
from monitor.health import Health
from monitor.metrics import instrument

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Runtime:
    config: Config
    sessions: sessionmaker[Session]
    setting_id: int
    classifier: Classifier
    transport: Transport
    alert_env: AlertEnv
    http: httpx.AsyncClient
    clock: Clock = utcnow
    connectors: dict[int, Connector] = field(default_factory=dict)  # account id -> connector
    tokens: dict[int, str | None] = field(default_factory=dict)
    health: Health | None = None  # readiness, metrics and the dead-man's switch (monitor.health)

    async def aclose(self) -> None:
        await self.http.aclose()


def make_transport(config: Config) -> Transport:
    e = config.email
    if not e.smtp_host:
        return FileTransport(e.outbox_dir)
    return SmtpTransport(
        e.smtp_host,
        e.smtp_port,
        starttls=e.smtp_starttls,
        tls=e.smtp_tls,
        username=config.secret(e.smtp_username_env, "email.smtp_username_env") if e.smtp_username_env else None,
        password=config.secret(e.smtp_password_env, "email.smtp_password_env") if e.smtp_password_env else None,
        timeout=e.smtp_timeout,
    )


def build_runtime(
    config: Config,
    *,
    clock: Clock = utcnow,
    transport: Transport | None = None,
    http: httpx.AsyncClient | None = None,
    classifier: Classifier | None = None,
    sessions: sessionmaker[Session] | None = None,
) -> Runtime:
    """Open the database (migrating it), sync config into it, build the parts."""
    sessions = sessions or open_database(config.database.url)
    secret_key = config.secret(config.web.secret_key_env, "web.secret_key_env")
    with sessions.begin() as session:
        setting = sync_config(session, config)
        setting_id = setting.id
    http = instrument(http or httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0), follow_redirects=False))
    rt = Runtime(
        config=config,
        sessions=sessions,
        setting_id=setting_id,
        classifier=classifier or build_classifier(config.setting, config.roster),
        transport=transport or make_transport(config),
        alert_env=AlertEnv.from_config(config, setting_id, secret_key),
        http=http,
        clock=clock,
    )
    rt.health = Health.from_config(config, sessions, clock, http)
    with sessions() as session:
        accounts = {(a.platform, a.external_id): a.id for a in session.query(Account).filter_by(setting_id=setting_id)}
    for ac in config.accounts:
        account_id = accounts[(ac.platform, ac.id)]
        token = config.secret(ac.token_env, f"accounts[{ac.platform}:{ac.id}].token_env") if ac.token_env else None
        rt.tokens[account_id] = token
        rt.connectors[account_id] = build_connector(ac, token, http, clock)
    return rt


def token_changed(account: Account, token: str | None) -> bool:
    return account.token_fingerprint != fingerprint(token)


__all__ = ["Runtime", "build_runtime", "utcnow", "ConfigError", "token_changed"]
