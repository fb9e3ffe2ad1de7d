"""Classify stored items in batches, so that one bad comment cannot stop the rest
(`classify_each`, monitor/batch_classify.py).

`classify_pending` is the pipeline's classify-and-alert stage. Its cost is
per batch, not per item: one query loads the batch (plain rows with the
columns judging reads, not ORM objects; for comments that answer others, a
few more load their threads: monitor/threads.py), the classifier runs with
no transaction open (then the setting's always/never phrases, `monitor.phrase_rules`,
adjust its outcomes), then one transaction claims the batch's items with one
conditional UPDATE (a second worker's items are left alone), inserts every
finding with one prepared statement (through Core: SQLite's executemany, on
PostgreSQL a multi-row INSERT per 1,000 rows), and only the items that raised an
alert are loaded again (with their findings, in one query) for
`alerts.service.create_alert`. Backfill items (a first poll's history) get
their findings but no alert: `monitor.backfill` summarises them.
"""
from __future__ import annotations

import logging
import time

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import selectinload

from alerts.service import create_alert
from monitor.core import progress
from monitor.core.models import Finding, Item, Recipient
from monitor.core.types import Classification, CycleReport
from monitor.batch_classify import classify_each
from monitor.phrase_rules import PhraseRules
from monitor.roster import refresh_classifier
from monitor.threads import classifier_inputs

log = logging.getLogger(__name__)

BATCH = 500


def unjudged(err: Exception) -> Classification:
    """What a comment the classifier failed on becomes: a human must look."""
    return Classification(needs_review=True, note=f"the classifier failed on this comment ({type(err).__name__})")


# What judging (and monitor.threads) reads of a pending item: a Row has these as attributes, like an Item.
PENDING = (Item.id, Item.setting_id, Item.account_id, Item.platform, Item.kind, Item.external_id,
           Item.parent_external_id, Item.author_id, Item.author_name, Item.text, Item.rating, Item.created_at,
           Item.backfill)


def _judge(rt, pending: list) -> list[Classification]:
    with rt.sessions() as session:  # each comment's thread (monitor.threads); the setting's always/never phrases
        inputs = classifier_inputs(session, pending)
        rules = PhraseRules.load(session, rt.setting_id)
    outcomes = classify_each(rt.classifier, inputs)
    results = []
    for item, outcome in zip(pending, (rules.apply(i.text, o) for i, o in zip(pending, outcomes))):
        if isinstance(outcome, Exception):
            log.error("item %s: classifier failed (%s); marked for human review", item.id, type(outcome).__name__)
            outcome = unjudged(outcome)
        results.append(outcome)
    return results


def _finding_rows(item, result: Classification) -> list[dict]:
    return [
        dict(setting_id=item.setting_id, item_id=item.id, category=f.category, severity=f.severity,
             score=float(f.score), detector=f.detector, evidence=[e.to_json() for e in f.evidence],
             alerting=f.category in result.labels)
        for f in result.findings
    ]


def classify_pending(rt, report: CycleReport, *, until: float | None = None) -> None:
    """Classify stored items not yet classified; alert on what warrants it.

    `until` (time.monotonic()) stops between batches; what is left waits for the next cycle.
    """
    refresh_classifier(rt)  # a roster edited on the Roster page is used from the next batch classified
    unclassified = (Item.setting_id == rt.setting_id, Item.classified_at.is_(None))
    total = None
    if progress.active():  # a first run at a terminal: how many to go
        with rt.sessions() as session:
            total = session.scalar(select(func.count(Item.id)).where(*unclassified))
    after = 0
    with progress.task("classifying", total) as advance:
        while until is None or time.monotonic() < until:
            if rt.stopping.is_set():
                return
            with rt.sessions() as session:
                pending = session.execute(
                    select(*PENDING).where(*unclassified, Item.id > after).order_by(Item.id).limit(BATCH)
                ).all()
            if not pending:
                return
            after = pending[-1].id
            results = _judge(rt, pending)
            _record(rt, report, pending, results)
            advance(len(pending))


def _record(rt, report: CycleReport, pending: list, results: list[Classification]) -> None:
    now = rt.clock()
    by_id = {item.id: (item, result) for item, result in zip(pending, results)}
    with rt.sessions.begin() as session:
        claimed = set(session.scalars(
            update(Item)
            .where(Item.id.in_(by_id), Item.classified_at.is_(None))
            .values(classified_at=now)
            .returning(Item.id)
            .execution_options(synchronize_session=False)
        ))  # another worker's items are not ours to judge again
        review = [i for i in claimed if by_id[i][1].needs_review]
        if review:
            session.execute(update(Item).where(Item.id.in_(review)).values(needs_review=True)
                            .execution_options(synchronize_session=False))
        rows = [row for i in claimed for row in _finding_rows(*by_id[i])]
        if rows:
            session.connection().execute(insert(Finding.__table__), rows)
        flagged = [i for i in claimed if by_id[i][1].labels]
        report.classified += len(claimed)
        report.backfilled += sum(1 for i in claimed if by_id[i][0].backfill)
        to_alert = [i for i in flagged if not by_id[i][0].backfill]
        if not to_alert:
            return
        recipients = list(session.scalars(select(Recipient).where(Recipient.setting_id == rt.setting_id)))
        items = session.scalars(
            select(Item).where(Item.id.in_(to_alert)).options(selectinload(Item.findings)).order_by(Item.id)
        ).all()
        for item in items:
            result = by_id[item.id][1]
            if create_alert(session, rt.alert_env, item, result, now, recipients=recipients) is not None:
                report.alerts += 1
                log.info("item %s: alert raised (%s)", item.id, ",".join(result.labels))
