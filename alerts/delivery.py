"""Deliver what the outbox holds, through each row's channel, within a time budget.

For each due row, oldest first: claim it (`alerts.claims`), hand it to its
channel's notifier (which renders and sends it), record the outcome. Every
outcome of one message stays with that message; nothing stops the run:

* accepted: sent;
* a temporary failure: backed off (`outbox.backoff`) and retried for
  `retry_for` seconds (at least MIN_ATTEMPTS tries), then failed;
* a permanent failure (a 5xx, a template fault, an address the server cannot
  take, any unexpected exception): failed at once, and by default the admins
  are told (`notices.queue_delivery_failed`);
* a configuration problem of the channel itself (refused login, TLS): the
  message goes back in the queue untouched, the channel pauses for the rest of
  the run, the problem is logged at ERROR once and kept in `delivery_problem`
  (read by `delivery_problem()`), and the channel is probed again every
  PROBE_EVERY; the first message that goes through clears it and the queue
  drains.

Rows are claimed CHUNK at a time and their outcomes recorded in one
transaction per chunk (two commits per chunk, not per message: on SQLite each
commit is a disk sync). So delivery is at least once: a process killed
between the server's "250" and that commit resends up to a chunk's messages,
under the same Message-ID.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Mapping

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from alerts.channels.base import DeliveryError, Message, Notifier
from alerts.channels.email import EmailChannel
from alerts.channels.email.transport import Transport
from alerts.claims import CLAIM_TIMEOUT, claim_many, recover_claims
from alerts.notices import queue_delivery_failed
from alerts.outbox import backoff
from monitor.core.models import DeliveryProblem, OutboxMessage, OutboxState

log = logging.getLogger(__name__)

MIN_ATTEMPTS = 3  # never give up on a temporary failure before this many tries
PROBE_EVERY = timedelta(minutes=3)  # a channel with a configuration problem is tried again this often
DEFAULT_BUDGET = 300.0  # seconds one run may spend delivering
BATCH = 200  # due rows read per query
CHUNK = 25  # rows claimed per transaction (each outcome is recorded as soon as it is known)

FailureHook = Callable[[Session, OutboxMessage, datetime], None]
__all__ = ["CLAIM_TIMEOUT", "DeliveryReport", "deliver_due", "delivery_problem", "NOTIFY_ADMINS"]


class _NotifyAdmins:
    """Default permanent-failure hook: queue a `delivery_failed` notice to the admins."""

    def __repr__(self) -> str:
        return "NOTIFY_ADMINS"


NOTIFY_ADMINS = _NotifyAdmins()


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    paused: dict[str, str] = field(default_factory=dict)  # channel -> configuration problem
    out_of_time: bool = False  # the budget ran out with messages still due


def as_message(row: OutboxMessage) -> Message:
    payload = row.payload or {}
    return Message(
        id=row.id, kind=row.kind, channel=row.channel, address=row.address,
        template=payload.get("template", row.kind), context=payload.get("context") or {},
        created_at=row.created_at, message_id=payload.get("message_id"), in_reply_to=payload.get("in_reply_to"),
        raw=row.raw,
    )


def delivery_problem(sessions: sessionmaker[Session]) -> str | None:
    """What stops a channel delivering anything, for the health endpoint and
    `run --once`; None when every channel works (as far as anyone knows)."""
    with sessions() as session:
        rows = session.scalars(select(DeliveryProblem).order_by(DeliveryProblem.channel)).all()
    return "; ".join(f"{p.channel}: {p.detail}" for p in rows) or None


def _notifiers(notifiers: Mapping[str, Notifier] | Transport, from_addr: str | None) -> Mapping[str, Notifier]:
    if hasattr(notifiers, "send"):  # a bare email transport
        return {"email": EmailChannel(notifiers, from_addr or "nurserywatch@localhost")}
    return notifiers


def deliver_due(
    sessions: sessionmaker[Session],
    notifiers: Mapping[str, Notifier] | Transport,
    clock: Callable[[], datetime],
    *,
    retry_for: int,
    from_addr: str | None = None,
    budget_seconds: float = DEFAULT_BUDGET,
    on_permanent_failure: FailureHook | _NotifyAdmins | None = NOTIFY_ADMINS,
    monotonic: Callable[[], float] = time.monotonic,
) -> DeliveryReport:
    """Deliver everything due, until the queue is empty or `budget_seconds` is spent.

    `notifiers` maps channel names to notifiers (`alerts.channels.build_notifiers`);
    a bare email transport is accepted too (with `from_addr`)."""
    run = _Run(sessions, _notifiers(notifiers, from_addr), clock, retry_for, monotonic,
               queue_delivery_failed if on_permanent_failure is NOTIFY_ADMINS else on_permanent_failure)
    deadline = monotonic() + budget_seconds
    recover_claims(sessions, clock())
    after = 0
    try:
        while True:
            with sessions() as session:
                due = session.execute(
                    select(OutboxMessage.id, OutboxMessage.channel)
                    .where(OutboxMessage.state == OutboxState.pending.value,
                           OutboxMessage.next_attempt_at <= clock(), OutboxMessage.id > after)
                    .order_by(OutboxMessage.id)
                    .limit(BATCH)
                ).all()
            if not due:
                return run.report
            after = due[-1][0]
            ids = [row_id for row_id, channel in due if channel not in run.paused]
            for start in range(0, len(ids), CHUNK):
                if monotonic() >= deadline:
                    run.report.out_of_time = True
                    log.warning("outbox: delivery budget of %ss spent; the rest goes next run", budget_seconds)
                    return run.report
                run.chunk(ids[start:start + CHUNK], deadline)
    finally:
        for notifier in run.notifiers.values():
            try:
                notifier.close()
            except Exception:  # a connection that will not close cleanly is still closed for us
                log.debug("closing a notifier failed", exc_info=True)


class _Run:
    """One delivery run's state: its notifiers, paused channels and report."""

    def __init__(self, sessions, notifiers, clock, retry_for, monotonic, on_permanent_failure):
        self.sessions, self.notifiers, self.clock = sessions, notifiers, clock
        self.retry_for, self.monotonic, self.on_permanent_failure = retry_for, monotonic, on_permanent_failure
        self.report = DeliveryReport()
        with sessions() as session:
            self.problems = {p.channel: p for p in session.scalars(select(DeliveryProblem))}
        self.paused = {c for c, p in self.problems.items() if p.next_probe_at > clock()}
        self.report.paused = {c: self.problems[c].detail for c in self.paused}

    def chunk(self, ids: list[int], deadline: float) -> None:
        """Claim up to CHUNK rows in one transaction, send each and record its outcome at once
        (a process killed mid-chunk repeats at most the message it was sending: at-least-once,
        never a whole chunk again); rows not tried are put back together at the end."""
        with self.sessions.begin() as session:
            messages = [as_message(row) for row in claim_many(session, ids, self.clock())]
        claimed_at = self.monotonic()
        released: list[tuple[Message, DeliveryError | None]] = []
        for message in messages:
            late = self.monotonic() - claimed_at > CLAIM_TIMEOUT.total_seconds() / 2 or self.monotonic() >= deadline
            if late or message.channel in self.paused:
                released.append((message, _RELEASE))
                continue
            outcome = self.send(message)
            if outcome is not None and outcome.config:
                self.pause(message.channel, outcome)
                released.append((message, _RELEASE))
                continue
            self.record([(message, outcome)])
        if released:
            self.record(released)

    def send(self, message: Message) -> DeliveryError | None:
        notifier = self.notifiers.get(message.channel)
        if notifier is None:
            return DeliveryError(f"no {message.channel!r} channel is configured ([channels.{message.channel}])",
                                 permanent=True)
        try:
            notifier.notify(message)
        except DeliveryError as err:
            return err
        except Exception as err:  # one message's fault, whatever it is, stays with that message
            log.debug("outbox %s: unexpected error in the %s channel", message.id, message.channel, exc_info=True)
            return DeliveryError(f"unexpected {type(err).__name__} in the {message.channel} channel", permanent=True)
        return None

    def record(self, outcomes: list[tuple[Message, DeliveryError | None]]) -> None:
        now = self.clock()
        sent = [m.id for m, outcome in outcomes if outcome is None]
        released = [m.id for m, outcome in outcomes if outcome is _RELEASE]
        recovered = {m.channel for m, outcome in outcomes if outcome is None} & set(self.problems)
        with self.sessions.begin() as session:
            if sent:
                session.execute(
                    update(OutboxMessage).where(OutboxMessage.id.in_(sent))
                    .values(state=OutboxState.sent.value, sent_at=now, attempts=OutboxMessage.attempts + 1,
                            claimed_at=None, claimed_by=None, last_error=None)
                    .execution_options(synchronize_session=False))
            if released:  # back as they were: not this message's fault
                session.execute(
                    update(OutboxMessage).where(OutboxMessage.id.in_(released))
                    .values(state=OutboxState.pending.value, claimed_at=None, claimed_by=None)
                    .execution_options(synchronize_session=False))
            for message, outcome in outcomes:
                if outcome is not None and outcome is not _RELEASE:
                    self.failed(session, message.id, outcome, now)
            if recovered:
                session.execute(delete(DeliveryProblem).where(DeliveryProblem.channel.in_(recovered)))
        for channel in recovered:
            problem = self.problems.pop(channel)
            log.info("%s delivery works again (problem since %s); sending what was queued", channel,
                     problem.since.isoformat())
        self.report.sent += len(sent)
        for row_id in sent:
            log.info("outbox %s: sent", row_id)

    def failed(self, session: Session, row_id: int, err: DeliveryError, now: datetime) -> None:
        row = session.get(OutboxMessage, row_id)
        row.attempts += 1
        row.last_error = err.detail
        row.claimed_at = row.claimed_by = None
        gave_up = (now - row.created_at).total_seconds() > self.retry_for and row.attempts >= MIN_ATTEMPTS
        if err.permanent or gave_up:
            row.state = OutboxState.failed.value
            self.report.failed += 1
            log.error("outbox %s (%s, %s): giving up after %s attempt(s): %s", row_id, row.kind, row.channel,
                      row.attempts, err.detail)
            if self.on_permanent_failure is not None:
                self.on_permanent_failure(session, row, now)
        else:
            row.state = OutboxState.pending.value
            row.next_attempt_at = now + backoff(row.attempts)
            self.report.retried += 1
            if row.attempts == 1:
                log.warning("outbox %s: delivery failed, will retry: %s", row_id, err.detail)

    def pause(self, channel: str, err: DeliveryError) -> None:
        """Record (or keep) the channel's problem; nothing more goes on it this run."""
        now, text = self.clock(), _problem_text(err)
        with self.sessions.begin() as session:
            problem = session.get(DeliveryProblem, channel)
            if problem is None:
                problem = DeliveryProblem(channel=channel, since=now)
                session.add(problem)
            new = problem.detail != text
            problem.detail, problem.next_probe_at = text, now + PROBE_EVERY
        self.problems[channel] = problem
        self.paused.add(channel)
        self.report.paused[channel] = text
        if new:
            log.error("%s delivery stopped: %s. Nothing more is sent on this channel until it is fixed; "
                      "it is tried again every %s minutes", channel, text, int(PROBE_EVERY.total_seconds() // 60))


_RELEASE = DeliveryError("released unsent", permanent=False)  # marker: put the row back untouched


def _problem_text(err: DeliveryError) -> str:
    return f"{err.detail}; {err.hint}" if err.hint else err.detail
