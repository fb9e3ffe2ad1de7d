"""The roster in the database: children and staff the classifier should recognise.

The config's `[roster]` seeds it once (when the setting has no roster rows);
from then on the Roster page and CSV imports keep it. A CSV import is the
export nursery management systems produce (first name, surname, room): it
replaces that kind's list, so leavers are removed, not kept.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from monitor.core.settings import RosterConfig
from monitor.core.webmodels import ROSTER_KINDS, RosterPerson
from monitor.feedback_training import setting_classifier

FIRST = ("first name", "firstname", "forename", "first", "given name", "first_name")
SURNAME = ("surname", "last name", "lastname", "family name", "last_name")
ROOM = ("room", "group", "class", "key group")
MAX_ROWS = 2000


class RosterError(ValueError):
    """A CSV the import cannot read, worded for the manager."""


@dataclass
class ImportReport:
    added: int = 0
    removed: int = 0
    kept: int = 0
    skipped: list[str] = field(default_factory=list)  # "line 4: no first name"


def split_name(full: str) -> tuple[str, str]:
    parts = full.split()
    return (parts[0], " ".join(parts[1:])) if parts else ("", "")


def seed_from_config(session: Session, setting_id: int, roster: RosterConfig, now: datetime) -> bool:
    """Copy the config's children and staff in, once. True if it seeded."""
    if session.scalar(select(RosterPerson.id).where(RosterPerson.setting_id == setting_id).limit(1)) is not None:
        return False
    for kind, names in (("child", roster.children), ("staff", roster.staff)):
        for full in names:
            first, surname = split_name(full)
            if first:
                session.add(RosterPerson(setting_id=setting_id, kind=kind, first_name=first, surname=surname,
                                         room="", created_at=now))
    session.flush()
    return True


def as_config(session: Session, setting_id: int, base: RosterConfig) -> RosterConfig:
    """The roster the classifier is built with: names from the database,
    parents and rooms from the config plus the rooms the database knows."""
    rows = session.scalars(select(RosterPerson).where(RosterPerson.setting_id == setting_id)
                           .order_by(RosterPerson.id)).all()
    names = {k: [f"{r.first_name} {r.surname}".strip() for r in rows if r.kind == k] for k in ROSTER_KINDS}
    rooms = list(dict.fromkeys([*base.rooms, *(r.room for r in rows if r.room)]))
    return RosterConfig(children=names["child"], staff=names["staff"], parents=list(base.parents), rooms=rooms)


def fingerprint(session: Session, setting_id: int) -> tuple:
    rows = session.execute(select(RosterPerson.id, RosterPerson.first_name, RosterPerson.surname, RosterPerson.room)
                           .where(RosterPerson.setting_id == setting_id).order_by(RosterPerson.id)).all()
    return tuple(tuple(r) for r in rows)


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    return next((i for i, h in enumerate(lowered) if h in names), None)


def parse_csv(text: str) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(first name, surname, room) rows and the lines skipped. A header row is
    recognised by its column names; without one the columns are taken in that order."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise RosterError("The file is empty.")
    if len(rows) > MAX_ROWS:
        raise RosterError(f"The file has {len(rows)} rows; the import takes at most {MAX_ROWS}.")
    first_i, surname_i, room_i = _column(rows[0], FIRST), _column(rows[0], SURNAME), _column(rows[0], ROOM)
    start = 1
    if first_i is None:
        if any(h.strip().lower() in SURNAME + ROOM for h in rows[0]):
            raise RosterError("The header row has no first name column (call it 'First name' or 'Forename').")
        first_i, surname_i, room_i, start = 0, 1, 2, 0
    out, skipped = [], []
    for n, row in enumerate(rows[start:], start=start + 1):
        cell = lambda i: row[i].strip()[:100] if i is not None and i < len(row) else ""  # noqa: E731
        if not cell(first_i):
            skipped.append(f"line {n}: no first name")
            continue
        out.append((cell(first_i), cell(surname_i), cell(room_i)))
    return out, skipped


def import_csv(session: Session, setting_id: int, kind: str, text: str, now: datetime) -> ImportReport:
    """Make the `kind` list match the file: new people added, leavers removed."""
    if kind not in ROSTER_KINDS:
        raise RosterError("Choose children or staff.")
    people, skipped = parse_csv(text)
    report = ImportReport(skipped=skipped)
    existing = {(r.first_name.lower(), r.surname.lower()): r for r in session.scalars(
        select(RosterPerson).where(RosterPerson.setting_id == setting_id, RosterPerson.kind == kind))}
    seen = set()
    for first, surname, room in people:
        key = (first.lower(), surname.lower())
        if key in seen:
            continue
        seen.add(key)
        row = existing.get(key)
        if row is None:
            session.add(RosterPerson(setting_id=setting_id, kind=kind, first_name=first, surname=surname,
                                     room=room, created_at=now))
            report.added += 1
        else:
            row.room = room
            report.kept += 1
    leavers = [r.id for key, r in existing.items() if key not in seen]
    if leavers:
        session.execute(delete(RosterPerson).where(RosterPerson.id.in_(leavers)))
    report.removed = len(leavers)
    session.flush()
    return report


def refresh_classifier(rt) -> bool:
    """Rebuild the runtime's classifier when the roster changed since it was built.

    Only a classifier the runtime built itself (`rt.roster_seen` is set) is
    rebuilt; one a test or caller injected is left alone. Cheap when nothing
    changed: one small query."""
    if rt.roster_seen is None:
        return False
    with rt.sessions() as session:
        seen = fingerprint(session, rt.setting_id)
        if seen == rt.roster_seen:
            return False
        roster = as_config(session, rt.setting_id, rt.config.roster)
    config = rt.config
    # built on next use (a quiet cycle never loads it); the model directory is read then, so it is the newest
    rt.rebuild_classifier(lambda: setting_classifier(config, roster))
    rt.roster_seen = seen
    return True
