"""Re-read recent comments to notice what changed on the platform: edits, hides, deletions.

A platform list shows a comment once; what happens to it afterwards (the
author edits it, someone hides or deletes it) would otherwise go unseen, so
`is_hidden` goes stale and an edit that adds a disclosure is never read.
Every RECHECK_EVERY, each account whose connector can `recheck` has its
comments of the last RECHECK_WINDOW read again, by the account's own poll
(so with replicas, under its poll lease: never beside another replica's poll):

- an edit of a comment without an alert stores the new text, drops the old
  findings and marks it unclassified, so the cycle's classify step reads it
  again: an edit that adds a concern raises an alert the normal way;
- an edit of a comment with an alert keeps the wording people were shown
  (it is the record of concern, as the webhook route does); the new wording
  is classified here and a note on the alert says whether it removed, kept
  or added to the concern. One that adds a concern raises the alert again,
  even if it was acknowledged or closed (`alerts.edits`). A wording already
  noted is not noted again (the platform keeps reporting it as a change
  against the stored original every re-read);
- a hide or unhide updates `is_hidden`; a deletion sets `removed_at`; both
  are noted on the item's alert, if it has one.
Notes carry no comment text. Failures are logged and retried next time;
they never fail the account's poll.
"""
from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from sqlalchemy import delete, select

from alerts.ack import audit
from alerts.edits import raise_again
from alerts.policy import CATEGORY_TITLES
from connectors.base import ConnectorError
from connectors.http import parse_time
from monitor.core.models import Account, AccountState, Alert, AuditEvent, Finding, Item
from monitor.core.platforms import display_name
from monitor.core.store import load_cursors, store_batch
from monitor.core.types import Batch, ItemChange, KnownItem
from monitor.judging import classify_each
from monitor.runtime import Runtime

log = logging.getLogger(__name__)

RECHECK_EVERY = timedelta(hours=1)
RECHECK_WINDOW = timedelta(days=7)
RECHECK_MAX = 500  # comments re-read per account per run, newest first
STREAM = ("recheck", "")


async def recheck_account(rt: Runtime, account_id: int, connector) -> list[int]:
    """Re-read one account's recent comments if due; the ids of items to classify again.

    Called by the account's poll (`monitor.pipeline`), inside its platform slot and,
    with replicas, under its poll lease, before the lease is released: so one
    replica at a time talks to a Page, and a replica that lost the lease while
    re-reading writes nothing (`LeaseLost`, as the poll's own stores)."""
    reread = getattr(connector, "recheck", None)
    if reread is None:
        return []
    now = rt.clock()
    with rt.sessions() as session:
        acc = session.get(Account, account_id)
        last = load_cursors(session, account_id).get(STREAM, {}).get("checked")
        if acc.state != AccountState.ok.value or (last and now - parse_time(last) < RECHECK_EVERY):
            return []
        known = [
            KnownItem(i.external_id, i.text, i.is_hidden)
            for i in session.scalars(
                select(Item)
                .where(Item.account_id == account_id, Item.kind.in_(("comment", "reply")),
                       Item.removed_at.is_(None), Item.erased_at.is_(None),  # erased: never re-read
                       Item.created_at >= now - RECHECK_WINDOW)
                .order_by(Item.created_at.desc())
                .limit(RECHECK_MAX)
            )
        ]
    try:
        changes = await reread(known) if known else []
    except ConnectorError as err:
        log.info("account %s: re-reading recent comments failed (%s); trying again next time",
                 account_id, type(err).__name__)
        return []
    with rt.sessions.begin() as session:
        acc = rt.leases.check(session, account_id) if rt.leases else session.get(Account, account_id)
        edited = apply_changes(rt, session, acc, changes)
        store_batch(session, acc, Batch(items=[], cursors={STREAM: {"checked": now.isoformat()}}), now)
    return edited


def apply_changes(rt: Runtime, session, acc: Account, changes: list[ItemChange]) -> list[int]:
    now = rt.clock()
    where = display_name(acc.platform)
    edited, rewritten = [], []
    for change in changes:
        item = session.scalar(select(Item).where(Item.account_id == acc.id, Item.external_id == change.external_id))
        if item is None or item.erased_at is not None:  # erased words stay erased
            continue
        alert = session.scalar(select(Alert).where(Alert.item_id == item.id))
        if change.deleted:
            item.removed_at = now
            log.info("item %s: deleted on the platform", item.id)
            _note(session, rt, alert, f"The comment has since been deleted on the {where}.")
            continue
        if change.is_hidden is not None:
            item.is_hidden = change.is_hidden
            _note(session, rt, alert, f"The comment has been {'hidden' if change.is_hidden else 'unhidden'} "
                                      f"on the {where} (not through nurserywatch).")
        if change.text is None:
            continue
        log.info("item %s: edited on the platform; checking the new wording", item.id)
        if alert is None:
            session.execute(delete(Finding).where(Finding.item_id == item.id))
            item.text, item.updated_at = change.text, now
            item.classified_at, item.needs_review = None, False
            edited.append(item.id)
        elif _wording(change.text) != _last_noted_wording(session, alert):
            rewritten.append((alert, item, change.text))
    _note_rewrites(session, rt, where, rewritten)
    return edited


def _note_rewrites(session, rt: Runtime, where: str, rewritten: list) -> None:
    """Classify the new wording of alerted comments and say on each alert what the edit did;
    raise the alert again when the edit adds a concern."""
    outcomes = classify_each(rt.classifier, [(new, item.platform, item.rating) for _, item, new in rewritten])
    for (alert, item, new), result in zip(rewritten, outcomes):
        head = f"The comment was edited on the {where} (the wording shown here is the original);"
        if isinstance(result, Exception):
            note = f"{head} the new wording could not be checked automatically: please look at it there."
        elif not result.labels:
            note = f"{head} the new wording no longer raises this concern."
        elif added := [c for c in result.labels if c not in alert.categories]:
            was = alert.state
            queued = raise_again(session, rt.alert_env, alert, new, result, rt.clock())
            note = f"{head} the new wording also raises: {', '.join(CATEGORY_TITLES.get(c, c) for c in added)}."
            if alert.state != was or queued > 0:
                note += f" The alert is open again ({was} before) and the people routed for it were emailed."
            log.info("alert %s: an edit added %s; %s email(s) queued", alert.id, ",".join(added), max(queued, 0))
        else:
            note = f"{head} the new wording still raises this concern."
        _note(session, rt, alert, note, wording=_wording(new))


def _wording(text: str) -> str:
    """A digest of a wording, to know it was noted already (not the words themselves)."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _last_noted_wording(session, alert: Alert) -> str | None:
    details = session.scalars(select(AuditEvent.detail).where(AuditEvent.alert_id == alert.id,
                                                              AuditEvent.action == "note")
                              .order_by(AuditEvent.id.desc()))
    return next((d["wording"] for d in details if d and d.get("wording")), None)


def _note(session, rt: Runtime, alert: Alert | None, note: str, **detail) -> None:
    if alert is not None:
        audit(session, alert, alert.setting_id, "note", None, rt.clock(), note=note, **detail)
