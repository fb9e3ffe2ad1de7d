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

Delivery is at least once: a process killed between the server's "250" and
the commit resends that message, under the same Message-ID.
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
from alerts.claims import CLAIM_TIMEOUT, claim, recover_claims
from alerts.notices import queue_delivery_failed
from alerts.outbox import backoff
from monitor.core.models import DeliveryProblem, OutboxMessage, OutboxState

log = logging.getLogger(__name__)

MIN_ATTEMPTS = 3  # never give up on a temporary failure before this many tries
PROBE_EVERY = timedelta(minutes=3)  # a channel with a configuration problem is tried again this often
DEFAULT_BUDGET = 300.0  # seconds one run may spend delivering
BATCH = 200

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
    if on_permanent_failure is NOTIFY_ADMINS:
        on_permanent_failure = queue_delivery_failed
    notifiers = _notifiers(notifiers, from_addr)
    deadline = monotonic() + budget_seconds
    report = DeliveryReport()
    recover_claims(sessions, clock())
    with sessions() as session:
        problems = {p.channel: p for p in session.scalars(select(DeliveryProblem))}
    paused = {c for c, p in problems.items() if p.next_probe_at > clock()}
    report.paused = {c: problems[c].detail for c in paused}
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
                return report
            for row_id, channel in due:
                after = row_id
                if channel in paused:
                    continue
                if monotonic() >= deadline:
                    report.out_of_time = True
                    log.warning("outbox: delivery budget of %ss spent; the rest goes next run", budget_seconds)
                    return report
                outcome = _send_one(sessions, row_id, notifiers, clock)
                if outcome == "skip":
                    continue
                if isinstance(outcome, DeliveryError) and outcome.config:
                    _pause(sessions, row_id, channel, outcome, problems, clock())
                    paused.add(channel)
                    report.paused[channel] = _problem_text(outcome)
                    continue
                if channel in problems:
                    _recovered(sessions, problems.pop(channel))
                _record(sessions, row_id, outcome, clock, retry_for, on_permanent_failure, report)
    finally:
        for notifier in notifiers.values():
            try:
                notifier.close()
            except Exception:  # a connection that will not close cleanly is still closed for us
                log.debug("closing a notifier failed", exc_info=True)


def _send_one(sessions, row_id: int, notifiers: Mapping[str, Notifier], clock) -> DeliveryError | None | str:
    """Claim and send one row: None when accepted, the error otherwise, "skip" when someone else has it."""
    with sessions.begin() as session:
        row = claim(session, row_id, clock())
        message = as_message(row) if row is not None else None
    if message is None:
        return "skip"
    notifier = notifiers.get(message.channel)
    if notifier is None:
        return DeliveryError(f"no {message.channel!r} channel is configured ([channels.{message.channel}])",
                             permanent=True)
    try:
        notifier.notify(message)
    except DeliveryError as err:
        return err
    except Exception as err:  # one message's fault, whatever it is, stays with that message
        log.debug("outbox %s: unexpected error in the %s channel", row_id, message.channel, exc_info=True)
        return DeliveryError(f"unexpected {type(err).__name__} in the {message.channel} channel", permanent=True)
    return None


def _record(sessions, row_id: int, outcome: DeliveryError | None, clock, retry_for: int,
            on_permanent_failure, report: DeliveryReport) -> None:
    with sessions.begin() as session:
        now = clock()
        if outcome is None:
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id == row_id)
                .values(state=OutboxState.sent.value, sent_at=now, attempts=OutboxMessage.attempts + 1,
                        claimed_at=None, claimed_by=None, last_error=None)
                .execution_options(synchronize_session=False)
            )
            report.sent += 1
            log.info("outbox %s: sent", row_id)
            return
        row = session.get(OutboxMessage, row_id)
        row.attempts += 1
        row.last_error = outcome.detail
        row.claimed_at = row.claimed_by = None
        gave_up = (now - row.created_at).total_seconds() > retry_for and row.attempts >= MIN_ATTEMPTS
        if outcome.permanent or gave_up:
            row.state = OutboxState.failed.value
            report.failed += 1
            log.error("outbox %s (%s, %s): giving up after %s attempt(s): %s", row_id, row.kind, row.channel,
                      row.attempts, outcome.detail)
            if on_permanent_failure is not None:
                on_permanent_failure(session, row, now)
        else:
            row.state = OutboxState.pending.value
            row.next_attempt_at = now + backoff(row.attempts)
            report.retried += 1
            if row.attempts == 1:
                log.warning("outbox %s: delivery failed, will retry: %s", row_id, outcome.detail)


def _problem_text(err: DeliveryError) -> str:
    return f"{err.detail}; {err.hint}" if err.hint else err.detail


def _pause(sessions, row_id: int, channel: str, err: DeliveryError, problems: dict, now: datetime) -> None:
    """Put the message back as it was, and record (or keep) the channel's problem."""
    text = _problem_text(err)
    with sessions.begin() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id, OutboxMessage.state == OutboxState.sending.value)
            .values(state=OutboxState.pending.value, claimed_at=None, claimed_by=None, last_error=err.detail)
            .execution_options(synchronize_session=False)
        )
        problem = session.get(DeliveryProblem, channel)
        if problem is None:
            problem = DeliveryProblem(channel=channel, since=now)
            session.add(problem)
        new = problem.detail != text
        problem.detail, problem.next_probe_at = text, now + PROBE_EVERY
    problems[channel] = problem
    if new:
        log.error("%s delivery stopped: %s. Nothing more is sent on this channel until it is fixed; "
                  "it is tried again every %s minutes", channel, text, int(PROBE_EVERY.total_seconds() // 60))


def _recovered(sessions, problem: DeliveryProblem) -> None:
    with sessions.begin() as session:
        session.execute(delete(DeliveryProblem).where(DeliveryProblem.channel == problem.channel))
    log.info("%s delivery works again (problem since %s); sending what was queued", problem.channel,
             problem.since.isoformat())
