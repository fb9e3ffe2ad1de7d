"""Is nurserywatch doing its job? The readiness checks behind /readyz, the
cycle bookkeeping they read, and the optional dead-man's switch.

A safeguarding alert that silently fails to go out is worse than no tool, so
"ready" means more than "the process answers": the database answers, a cycle
ran within two poll intervals, no account has been failing for longer than
its budget, the oldest queued email is inside its retry budget, and the SMTP
server is not refusing. Each failed check is a `Reason` with a stable code
(docs/operations.md says what to do about each) and a message naming ids,
never names or comment text.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Callable

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from alerts.delivery import delivery_problem
from monitor import metrics
from monitor.core.models import Account, AccountState, OutboxMessage, OutboxState
from monitor.core.settings import Config
from monitor.core.types import CycleReport

log = logging.getLogger(__name__)

UNREADABLE_FOR = timedelta(days=1)  # how long /readyz warns after an item could not be read
DB_TIMEOUT = 5.0  # seconds /readyz waits for the database before calling it down


@dataclass(frozen=True)
class Reason:
    code: str  # database_down | cycle_failing | no_recent_cycle | account_failing | outbox_stale | smtp_failing
    #            | account_poll_failed, items_unreadable (not blocking: "degraded")
    message: str
    blocking: bool = True  # False: reported ("degraded"), but still ready


def blocking(reasons: list[Reason]) -> list[Reason]:
    return [r for r in reasons if r.blocking]


@dataclass
class Health:
    """Built once per runtime; the pipeline tells it when a cycle ends."""

    sessions: sessionmaker[Session]
    clock: Callable[[], datetime]
    cycle_every: int | None = None  # seconds; None: no scheduler here, so no cycle check
    poll_every: dict[tuple[str, str], int] = field(default_factory=dict)  # (platform, external id) -> s
    account_failing_for: int = 3600
    retry_for: int = 2 * 86400
    ping_url: str | None = None
    ping_timeout: float = 10
    http: httpx.AsyncClient | None = None
    started_at: datetime | None = None
    last_cycle_at: datetime | None = None
    last_report: CycleReport | None = None
    last_failure: str | None = None  # why the last cycle failed, if it did
    _ping_failing: bool = False

    def __post_init__(self):
        self.started_at = self.started_at or self.clock()

    @classmethod
    def from_config(cls, config: Config, sessions, clock, http: httpx.AsyncClient | None = None) -> "Health":
        shortest = min((a.poll_every for a in config.accounts), default=None)
        ping = config.secret(config.health.ping_url_env, "health.ping_url_env") if config.health.ping_url_env else None
        return cls(
            sessions=sessions,
            clock=clock,
            cycle_every=max(shortest, 60) if shortest else None,
            poll_every={(a.platform, a.id): a.poll_every for a in config.accounts},
            account_failing_for=config.health.account_failing_for,
            retry_for=config.email.retry_for,
            ping_url=ping,
            ping_timeout=config.health.ping_timeout,
            http=http,
        )

    # --- the pipeline's hook -------------------------------------------------

    async def cycle_done(self, report: CycleReport, seconds: float) -> None:
        """Record a finished cycle; ping the dead-man's switch if all is well."""
        self.last_cycle_at, self.last_report, self.last_failure = self.clock(), report, None
        metrics.observe_cycle(report, seconds)
        if not self.ping_url:
            return
        reasons = blocking(await asyncio.to_thread(self.reasons))
        if reasons:
            log.info("dead-man's switch not pinged: %s", ", ".join(r.code for r in reasons))
            return
        await self.ping()

    def cycle_failed(self, err: BaseException) -> None:
        """Remember why a cycle failed (the error's type and the driver's first
        line, e.g. "database or disk is full"; never parameters or data)."""
        detail = getattr(err, "orig", None)
        first = str(detail).splitlines()[0] if detail is not None and str(detail) else ""
        self.last_failure = f"{type(err).__name__}: {first}" if first else type(err).__name__
        metrics.CYCLES.labels("failed").inc()

    async def ping(self) -> None:
        metrics.API_PLATFORM.set(None)  # not a platform call
        client = self.http or httpx.AsyncClient()
        try:
            resp = await client.get(self.ping_url, timeout=self.ping_timeout)
            resp.raise_for_status()
        except httpx.HTTPError as err:
            metrics.PINGS.labels("failed").inc()
            if not self._ping_failing:
                log.warning("dead-man's switch ping failed (%s); the monitor there will raise the alarm",
                            type(err).__name__)
            self._ping_failing = True
            return
        finally:
            if client is not self.http:
                await client.aclose()
        metrics.PINGS.labels("ok").inc()
        if self._ping_failing:
            log.info("dead-man's switch ping works again")
        self._ping_failing = False

    # --- the checks ------------------------------------------------------------

    def reasons(self) -> list[Reason]:
        """Every reason nurserywatch is not ready now (empty: ready)."""
        try:
            with self.sessions() as s:
                s.execute(text("SELECT 1"))
                return self._cycle() + self._accounts(s) + self._unreadable(s) + self._outbox(s)
        except Exception as err:  # any database failure means: not ready, and say so
            return [Reason("database_down", f"the database does not answer ({type(err).__name__})")]

    async def check(self) -> list[Reason]:
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.reasons), DB_TIMEOUT)
        except TimeoutError:
            return [Reason("database_down", f"the database did not answer within {DB_TIMEOUT:.0f} s")]

    def _cycle(self) -> list[Reason]:
        if self.last_failure:
            return [Reason("cycle_failing", f"the last cycle failed: {self.last_failure}")]
        if self.cycle_every is None:
            return []
        since = self.last_cycle_at or self.started_at
        late = self.clock() - since
        if late > timedelta(seconds=2 * self.cycle_every):
            what = "no cycle has finished" if self.last_cycle_at is None else "the last cycle finished"
            return [Reason("no_recent_cycle", f"{what} {_ago(late)} ago (expected every {self.cycle_every} s)")]
        return []

    def _accounts(self, s: Session) -> list[Reason]:
        now, out = self.clock(), []
        for acc in s.scalars(select(Account).where(Account.failures > 0).order_by(Account.id)):
            if (acc.platform, acc.external_id) not in self.poll_every and self.poll_every:
                continue  # no longer in the configuration
            if acc.state in (AccountState.needs_reconnect.value, AccountState.misconfigured.value):
                out.append(Reason("account_failing", f"account {acc.id} ({acc.platform}) is {acc.state}"))
                continue
            budget = self.account_failing_for + self.poll_every.get((acc.platform, acc.external_id), 0)
            since = max(acc.last_success_at or self.started_at, self.started_at)
            failing = now - since > timedelta(seconds=budget)
            out.append(Reason(
                "account_failing" if failing else "account_poll_failed",
                f"account {acc.id} ({acc.platform}) has failed {acc.failures} poll(s) over {_ago(now - since)} "
                f"({acc.state}; " + ("longer than" if failing else "within") + f" its budget of {_ago(timedelta(seconds=budget))})",
                blocking=failing,
            ))
        return out

    def _unreadable(self, s: Session) -> list[Reason]:
        """A warning for a day after an item could not be read (skipped by the connector)."""
        now, out = self.clock(), []
        for acc in s.scalars(select(Account).where(Account.items_unreadable > 0, Account.unreadable_at.is_not(None))
                             .order_by(Account.id)):
            if now - acc.unreadable_at > UNREADABLE_FOR or (self.poll_every and
                                                            (acc.platform, acc.external_id) not in self.poll_every):
                continue
            out.append(Reason("items_unreadable", f"account {acc.id} ({acc.platform}): {acc.items_unreadable} item(s) "
                                                  f"could not be read, the latest {_ago(now - acc.unreadable_at)} ago "
                                                  "(skipped; their ids are in the log)", blocking=False))
        return out

    def _outbox(self, s: Session) -> list[Reason]:
        now, out = self.clock(), []
        pending = OutboxMessage.state == OutboxState.pending.value
        oldest = s.scalar(select(func.min(OutboxMessage.created_at)).where(pending))
        if oldest is not None and now - oldest > timedelta(seconds=self.retry_for):
            out.append(Reason("outbox_stale", f"an email has waited {_ago(now - oldest)}, "
                                              f"longer than its retry budget of {_ago(timedelta(seconds=self.retry_for))}"))
        if (problem := delivery_problem(self.sessions)) is not None:  # a refused login or TLS: a config error
            return out + [Reason("smtp_failing", f"delivery refused: {problem}")]
        failing = s.execute(
            select(OutboxMessage.id, OutboxMessage.last_error)
            .where(pending, OutboxMessage.attempts > 0).order_by(OutboxMessage.id.desc()).limit(1)
        ).first()
        if failing is not None:
            n = s.scalar(select(func.count()).where(pending, OutboxMessage.attempts > 0))
            out.append(Reason("smtp_failing", f"{n} email(s) waiting after a failed attempt; "
                                              f"last error: {failing.last_error}"))
        return out

    def as_json(self, reasons: list[Reason]) -> dict:
        return {
            "status": "not ready" if blocking(reasons) else "degraded" if reasons else "ready",
            "reasons": [asdict(r) for r in reasons],
            "last_cycle_at": self.last_cycle_at.isoformat() if self.last_cycle_at else None,
        }


def _ago(delta: timedelta) -> str:
    s = int(delta.total_seconds())
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 2 * 86400:
        return f"{s // 3600} h"
    return f"{s // 86400} days"
