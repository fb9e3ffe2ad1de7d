"""Storage rules: aware UTC times, the alert state machine, one item per (account, id)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from monitor.core.models import Account, Alert, InvalidTransition, Item, Setting

T0 = datetime(2026, 3, 29, 0, 30, tzinfo=timezone.utc)


def _account(s) -> Account:
    setting = Setting(key="w", name="W", timezone="Europe/London")
    s.add(setting)
    s.flush()
    acc = Account(setting_id=setting.id, platform="demo", external_id="p", name="p")
    s.add(acc)
    s.flush()
    return acc


def _item(acc, external_id="c1", when=T0) -> Item:
    return Item(setting_id=acc.setting_id, account_id=acc.id, platform="demo", external_id=external_id,
                kind="comment", text="hello", created_at=when, fetched_at=when)


def test_times_come_back_aware_and_in_utc(sessions):
    local = T0.astimezone(timezone(timedelta(hours=1)))
    with sessions.begin() as s:
        acc = _account(s)
        s.add(_item(acc, when=local))
    with sessions() as s:
        item = s.scalar(select(Item))
        assert item.created_at == T0 and item.created_at.utcoffset() == timedelta(0)


def test_naive_times_are_refused(sessions):
    with pytest.raises(Exception, match="naive datetime"):
        with sessions.begin() as s:
            acc = _account(s)
            s.add(_item(acc, when=datetime(2026, 1, 1)))


def test_the_same_comment_cannot_be_stored_twice_for_an_account(sessions):
    with pytest.raises(IntegrityError):
        with sessions.begin() as s:
            acc = _account(s)
            s.add_all([_item(acc), _item(acc)])


def test_alert_state_machine():
    alert = Alert(state="open")
    alert.transition("acknowledged", T0)
    assert alert.acknowledged_at == T0 and alert.next_escalation_at is None
    with pytest.raises(InvalidTransition):
        alert.transition("open", T0)
    alert.transition("closed", T0)
    with pytest.raises(InvalidTransition):
        alert.transition("acknowledged", T0)
