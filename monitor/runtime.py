"""Everything a running nurserywatch needs, built once from the config.

The classifier (spaCy and the model, about 2 s) is built on first use, so a
cycle with nothing new never loads it.

A group (monitor.core.group) gets one Runtime per setting, each with its own
config, roster, classifier, accounts and alert routing, all sharing one
database, HTTP client, mail transport and health record. The first setting's
Runtime holds the others in `settings`; the daemon polls `all_connectors` and
runs each account's cycle with `for_account`'s Runtime.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable

import httpx
from sqlalchemy.orm import Session, sessionmaker

from alerts.service import AlertEnv
from alerts.channels import Notifier, build_notifiers
from alerts.channels.email import Transport, make_transport
from connectors import build_connector
from connectors.base import Connector
from monitor.accounts.provider import AccountCredentials
from monitor.accounts.vault import KEY_ENV, Vault
from monitor.core.db import open_database, serialise
from monitor.core.models import Account
from monitor.core.platforms import PLATFORMS
from monitor.core.group import Group
from monitor.core.settings import Config, ConfigError, RosterConfig
from monitor.core.store import sync_config
from monitor.health import Health
from monitor.metrics import instrument
from monitor import roster
from monitor.feedback_training import setting_classifier
from monitor.poll_leases import DEFAULT_TTL, PollLeases, uses_leases

if TYPE_CHECKING:
    from classifiers import Classifier

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Runtime:
    config: Config
    sessions: sessionmaker[Session]
    setting_id: int
    make_classifier: Callable[[], "Classifier"]
    transport: Transport
    alert_env: AlertEnv
    http: httpx.AsyncClient
    clock: Clock = utcnow
    notifiers: dict[str, Notifier] = field(default_factory=dict)  # channel -> notifier (email's uses `transport`)
    connectors: dict[int, Connector] = field(default_factory=dict)  # account id -> connector
    credentials: dict[int, AccountCredentials | None] = field(default_factory=dict)  # None: the demo
    health: Health | None = None  # readiness, metrics and the dead-man's switch (monitor.health)
    roster_seen: tuple | None = None  # the roster the classifier was built with (None: injected classifier)
    poll_every: dict[int, int] = field(default_factory=dict)  # account id -> seconds
    tolerance: float = 0.0  # seconds early a planned poll may start (the daemon's half tick)
    process_lock: threading.Lock = field(default_factory=threading.Lock)
    process_wanted: threading.Event = field(default_factory=threading.Event)  # new items while a run was busy
    stopping: threading.Event = field(default_factory=threading.Event)  # set on SIGTERM: finish the batch, stop
    settings: list["Runtime"] = field(default_factory=list)  # a group: every setting's Runtime, this one first
    group: Group | None = None  # a group of several settings (its name and time zone: the group digest)
    leases: PollLeases | None = None  # PostgreSQL: per-account poll leases shared with other replicas
    _classifier: "Classifier | None" = None
    _classifier_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def every_setting(self) -> list["Runtime"]:
        return self.settings or [self]

    @property
    def all_connectors(self) -> dict[int, Connector]:
        """Every setting's accounts (account id -> connector): what the daemon polls."""
        return {a: c for r in self.every_setting for a, c in r.connectors.items()}

    def for_setting(self, setting_id: int) -> "Runtime":
        """The Runtime of one setting of the group (by its database id)."""
        return next(r for r in self.every_setting if r.setting_id == setting_id)

    def for_account(self, account_id: int) -> "Runtime":
        """The Runtime of the setting an account belongs to."""
        return next((r for r in self.every_setting if account_id in r.connectors), self)

    @property
    def classifier(self) -> "Classifier":
        with self._classifier_lock:
            if self._classifier is None:
                self._classifier = self.make_classifier()
            return self._classifier

    @classifier.setter
    def classifier(self, classifier: "Classifier | None") -> None:
        """Replace the classifier (None: build it again with `make_classifier` on next use)."""
        with self._classifier_lock:
            self._classifier = classifier

    def rebuild_classifier(self, make: Callable[[], "Classifier"]) -> None:
        """Use `make` from now on; the classifier is built with it on next use."""
        with self._classifier_lock:
            self.make_classifier, self._classifier = make, None

    @property
    def classifier_loaded(self) -> bool:
        return self._classifier is not None

    async def aclose(self) -> None:
        await self.http.aclose()


def build_runtime(
    config: Config,
    *,
    clock: Clock = utcnow,
    transport: Transport | None = None,
    http: httpx.AsyncClient | None = None,
    classifier: "Classifier | None" = None,
    sessions: sessionmaker[Session] | None = None,
    oauth_transport: httpx.AsyncBaseTransport | None = None,  # tests: an imitation token endpoint
    notifiers: dict[str, Notifier] | None = None,  # a group's settings share one set
) -> Runtime:
    """Open the database (migrating it), sync config into it, build the parts."""
    sessions = sessions or open_database(config.database.url)
    secret_key = config.secret(config.web.secret_key_env, "web.secret_key_env")
    with sessions.begin() as session:
        serialise(session, "sync-config")  # replicas starting at once: one after another
        setting = sync_config(session, config)
        setting_id = setting.id
        roster.seed_from_config(session, setting_id, config.roster, clock())  # once: then the Roster page owns it
        names = roster.as_config(session, setting_id, config.roster)
        roster_seen = None if classifier else roster.fingerprint(session, setting_id)
    http = instrument(http or _new_http())
    transport = transport or make_transport(config)
    rt = Runtime(
        config=config,
        sessions=sessions,
        setting_id=setting_id,
        make_classifier=(lambda: classifier) if classifier is not None else lambda: _load_classifier(config, names),
        transport=transport,
        notifiers=notifiers if notifiers is not None else build_notifiers(config, email_transport=transport),
        alert_env=AlertEnv.from_config(config, setting_id, secret_key),
        http=http,
        clock=clock,
        roster_seen=roster_seen,
    )
    rt.health = Health.from_config(config, sessions, clock, http)
    if uses_leases(sessions):  # replicas may share the database: each account's poll is leased
        rt.leases = PollLeases(sessions, clock, DEFAULT_TTL)
    with sessions() as session:
        accounts = {(a.platform, a.external_id): a.id for a in session.query(Account).filter_by(setting_id=setting_id)}
    vault = Vault(sessions, setting_id) if os.environ.get(KEY_ENV) else None
    for ac in config.accounts:
        account_id = accounts[(ac.platform, ac.id)]
        creds = (AccountCredentials(ac, vault=vault, clock=clock, transport=oauth_transport)
                 if PLATFORMS[ac.platform].needs_token else None)
        rt.credentials[account_id] = creds
        rt.poll_every[account_id] = ac.poll_every
        rt.connectors[account_id] = build_connector(ac, creds, http, clock)
    return rt


def build_group_runtime(group: Group, *, clock: Clock = utcnow, **parts) -> Runtime:
    """One Runtime per setting of the group, sharing the database, HTTP client,
    transport, notifiers and health; the first holds them all in `settings`.
    A group of one is `build_runtime` of its config."""
    if len(group.configs) == 1:
        return build_runtime(group.configs[0], clock=clock, **parts)
    shared = group.shared
    parts["sessions"] = parts.get("sessions") or open_database(shared.database.url)
    parts["http"] = instrument(parts.get("http") or _new_http())
    parts["transport"] = parts.get("transport") or make_transport(shared)
    parts["notifiers"] = build_notifiers(shared, email_transport=parts["transport"])
    runtimes = [build_runtime(config, clock=clock, **parts) for config in group.configs]
    every_account = shared.model_copy(update={"accounts": [a for c in group.configs for a in c.accounts]})
    health = Health.from_config(every_account, parts["sessions"], clock, parts["http"])
    for rt in runtimes:
        rt.health = health
    runtimes[0].settings, runtimes[0].group = runtimes, group
    for rt in runtimes[1:]:  # replicas: one holder and one set of poll leases per process
        rt.leases = runtimes[0].leases
    return runtimes[0]


def _new_http() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0), follow_redirects=False)


def _load_classifier(config: Config, names: RosterConfig) -> "Classifier":
    """The classifier for the setting, with the roster's `names` and the corrections learnt from feedback."""
    log.debug("loading the classifier")  # spaCy is imported here: only when there is something to classify
    return setting_classifier(config, names)


def hide_unavailable(rt: Runtime, account_id: int) -> str | None:
    """Why alerts for an account can offer no hide button (an X app-only token), or None."""
    creds = rt.credentials.get(account_id)
    return creds.hide_unavailable() if creds is not None else None


def credential_identity(rt: Runtime, account_id: int) -> str | None:
    """Changes when a person gives an account new credentials (not on renewal)."""
    creds = rt.credentials.get(account_id)
    return creds.identity() if creds is not None else None


__all__ = ["Runtime", "build_group_runtime", "build_runtime", "make_transport", "utcnow", "ConfigError", "credential_identity", "hide_unavailable"]
