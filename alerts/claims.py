"""Who is sending an outbox row, and taking rows back from a process that died.

Rows are claimed with a conditional UPDATE (pending and due -> sending), which
records the claiming process as `host:pid:nonce`. A claim lasts one chunk of
messages, and never more than half of CLAIM_TIMEOUT (`alerts.delivery`).
When the process dies mid-send, the row is taken back at the next delivery
run: at once if the claimer ran on this host and is gone (so a restart after a
crash resends straight away), otherwise after CLAIM_TIMEOUT. That resend is
the at-least-once window: the message may arrive twice, under the same
Message-ID.
"""
from __future__ import annotations

import logging
import os
import secrets
import socket
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.core.models import OutboxMessage, OutboxState

log = logging.getLogger(__name__)

CLAIM_TIMEOUT = timedelta(minutes=2)  # a live claim is released after half of this at most

_HOST = socket.gethostname()
_NONCE = secrets.token_hex(4)


def owner() -> str:
    """This process, as written in `claimed_by` (pid read each time: forks differ)."""
    return f"{_HOST}:{os.getpid()}:{_NONCE}"


def _is_dead(claimed_by: str | None) -> bool:
    """True only when the claimer is known to be gone: it ran on this host and
    its process no longer exists (or is an earlier life of this pid)."""
    host, _, rest = (claimed_by or "").partition(":")
    pid_text, _, nonce = rest.partition(":")
    if host != _HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return nonce != _NONCE  # same pid, another life (a container restarted as pid 1)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, owned by someone else
    return False


def recover_claims(sessions: sessionmaker[Session], now: datetime) -> int:
    """Put rows claimed by a dead process, or claimed too long ago, back in the queue."""
    stale = now - CLAIM_TIMEOUT
    with sessions.begin() as session:
        claimed = session.execute(
            select(OutboxMessage.id, OutboxMessage.claimed_by, OutboxMessage.claimed_at)
            .where(OutboxMessage.state == OutboxState.sending.value)
        ).all()
        back = [i for i, by, at in claimed if at is None or at < stale or _is_dead(by)]
        if back:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(back), OutboxMessage.state == OutboxState.sending.value)
                .values(state=OutboxState.pending.value, claimed_at=None, claimed_by=None, next_attempt_at=now)
            )
    if back:
        log.warning("outbox: took back %s message(s) claimed by a process that stopped; they are sent again "
                    "(same Message-ID)", len(back))
    return len(back)


def claim_many(session: Session, ids: list[int], now: datetime) -> list[OutboxMessage]:
    """Claim those of `ids` that are still pending and due, for this process, in
    one statement; the rows claimed (those another worker took are left out)."""
    if not ids:
        return []
    rows = session.scalars(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.state == OutboxState.pending.value,
            OutboxMessage.next_attempt_at <= now,
        )
        .values(state=OutboxState.sending.value, claimed_at=now, claimed_by=owner())
        .returning(OutboxMessage)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted(rows, key=lambda r: r.id)
