"""Small storage helpers the pipeline and the CLI share."""
from __future__ import annotations

from datetime import datetime
import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.core.types import Batch, CursorKey
from monitor.core.db import insert_ignoring_conflict
from monitor.core.models import Account, Cursor, Item, Recipient, Setting
from monitor.core.settings import Config


def fingerprint(secret: str | None) -> str | None:
    """A short hash to notice that a token changed, without storing it."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16] if secret else None


def sync_config(session: Session, config: Config) -> Setting:
    """Make the database's setting, recipients and accounts match the config."""
    setting = session.scalar(select(Setting).where(Setting.key == config.setting.key))
    if setting is None:
        setting = Setting(key=config.setting.key, name=config.setting.name, timezone=config.setting.timezone)
        session.add(setting)
        session.flush()
    setting.name, setting.timezone = config.setting.name, config.setting.timezone

    existing = {r.email: r for r in session.scalars(select(Recipient).where(Recipient.setting_id == setting.id))}
    for rc in config.recipients:
        r = existing.pop(rc.email, None) or Recipient(setting_id=setting.id, email=rc.email)
        r.name, r.roles, r.known_as, r.active = rc.name, list(rc.roles), list(rc.known_as), True
        r.addresses = dict(rc.addresses)
        session.add(r)
    for gone in existing.values():
        gone.active = False  # kept: old alerts and audit events point at it

    for ac in config.accounts:
        acc = session.scalar(
            select(Account).where(
                Account.setting_id == setting.id, Account.platform == ac.platform, Account.external_id == ac.id
            )
        )
        if acc is None:
            acc = Account(setting_id=setting.id, platform=ac.platform, external_id=ac.id, name=ac.label)
            session.add(acc)
        acc.name = ac.label
    session.flush()
    return setting


def load_cursors(session: Session, account_id: int) -> dict[CursorKey, dict]:
    rows = session.scalars(select(Cursor).where(Cursor.account_id == account_id))
    return {(c.stream, c.parent): dict(c.value) for c in rows}


def store_batch(session: Session, account: Account, batch: Batch, now: datetime) -> int:
    """Insert the batch's new items and move its cursors, in the caller's transaction."""
    rows = [
        dict(
            setting_id=account.setting_id,
            account_id=account.id,
            platform=account.platform,
            external_id=it.external_id,
            kind=it.kind,
            parent_external_id=it.parent_external_id,
            author_name=it.author_name,
            author_id=it.author_id,
            text=it.text,
            created_at=it.created_at,
            updated_at=it.updated_at,
            permalink=it.permalink,
            rating=it.rating,
            can_hide=it.can_hide,
            is_hidden=it.is_hidden,
            attachment_type=it.attachment_type,
            attachment_url=it.attachment_url,
            source=(it.source or "")[:200] or None,
            fetched_at=now,
            needs_review=False,
        )
        for it in batch.items
    ]
    inserted = 0
    for start in range(0, len(rows), 500):  # SQLite caps the number of bound parameters
        inserted += insert_ignoring_conflict(session, Item, rows[start : start + 500], ["account_id", "external_id"])
    for (stream, parent), value in batch.cursors.items():
        cur = session.scalar(
            select(Cursor).where(Cursor.account_id == account.id, Cursor.stream == stream, Cursor.parent == parent)
        )
        if cur is None:
            cur = Cursor(setting_id=account.setting_id, account_id=account.id, stream=stream, parent=parent)
            session.add(cur)
        cur.value = value
        cur.updated_at = now
    return inserted
