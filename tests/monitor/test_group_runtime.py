"""A group runs every setting's accounts, each with its own roster, routes and people."""
from __future__ import annotations

import asyncio
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor import cli
from monitor.core.group import load_group
from monitor.core.models import Account, Alert, Item, OutboxMessage, Recipient, Setting
from monitor.daemon import Jobs
from monitor.pipeline import run_cycle
from monitor.runtime import build_group_runtime
from tests.monitor.helpers import Keywords, Scripted

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

GROUP = """
[group]
name = "Oakfield Nurseries"
settings = "settings.d/*.toml"
[database]
url = "{db_url}"
[email]
from = "nurserywatch@example.org"
outbox_dir = "{outbox}"
[[recipients]]
name = "Ruth Area"
email = "area@example.org"
roles = ["area_manager"]
"""

SETTING = """
[setting]
key = "{key}"
name = "{name}"
[roster]
staff = ["{manager}"]
[[recipients]]
name = "{manager}"
email = "{key}.manager@example.org"
roles = ["manager"]
[[recipients]]
name = "{dsl}"
email = "{key}.dsl@example.org"
roles = ["dsl"]
[[accounts]]
platform = "demo"
id = "{key}-page"
"""


def write_group(tmp_path: Path, db_url: str, keys=("oak", "elm")) -> Path:
    d = tmp_path / "settings.d"
    d.mkdir(exist_ok=True)
    people = {"oak": ("Oak Nursery", "Ann Oak", "Dan Oak"), "elm": ("Elm Nursery", "Ben Elm", "Eve Elm")}
    for key in keys:
        name, manager, dsl = people[key]
        (d / f"{key}.toml").write_text(SETTING.format(key=key, name=name, manager=manager, dsl=dsl))
    path = tmp_path / "group.toml"
    path.write_text(GROUP.format(db_url=db_url, outbox=tmp_path / "outbox"))
    return path


def scripted(rt) -> dict[str, Scripted]:
    """Each setting's one account replaced by a connector the test posts to, by setting key."""
    out = {}
    for each in rt.every_setting:
        (account_id,) = each.connectors
        each.connectors[account_id] = out[each.config.setting.key] = Scripted()
    return out


@pytest.fixture
def group_rt(tmp_path, db_url, sessions, clock):
    rt = build_group_runtime(load_group(write_group(tmp_path, db_url)), clock=clock, sessions=sessions,
                             classifier=Keywords())
    yield rt
    asyncio.run(rt.aclose())


def test_a_cycle_polls_every_settings_accounts_and_alerts_each_settings_own_people(group_rt, sessions, clock):
    pages = scripted(group_rt)
    pages["oak"].post("o1", "my son came home with a bruise", clock())
    pages["elm"].post("e1", "a bruise on her arm again", clock())
    pages["elm"].post("e2", "lovely sports day", clock())

    report = asyncio.run(run_cycle(group_rt))

    assert report.stored == 3 and report.alerts == 2
    assert pages["oak"].polls == pages["elm"].polls == 1
    with sessions() as s:
        keys = {sid: key for sid, key in s.execute(select(Setting.id, Setting.key))}
        items = {i.external_id: keys[i.setting_id] for i in s.scalars(select(Item))}
        assert items == {"o1": "oak", "e1": "elm", "e2": "elm"}
        told = {(keys[m.setting_id], m.address) for m in s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "alert"))}
    assert told == {("oak", "oak.dsl@example.org"), ("elm", "elm.dsl@example.org")}


def test_the_daemon_ticks_every_settings_accounts_each_with_its_own_runtime(group_rt, clock):
    pages = scripted(group_rt)
    pages["elm"].post("e1", "a bruise on her arm", clock())

    async def one_tick():
        jobs = Jobs(group_rt)
        await jobs.cycle()

    asyncio.run(one_tick())

    assert pages["oak"].polls == pages["elm"].polls == 1
    elm = next(r for r in group_rt.every_setting if r.config.setting.key == "elm")
    with group_rt.sessions() as s:
        (alert,) = s.scalars(select(Alert)).all()
        assert alert.setting_id == elm.setting_id


def test_each_setting_has_its_own_people_and_the_group_people_are_in_each(group_rt, sessions):
    with sessions() as s:
        keys = {sid: key for sid, key in s.execute(select(Setting.id, Setting.key))}
        people = {(keys[r.setting_id], r.email) for r in s.scalars(select(Recipient))}
    assert ("oak", "area@example.org") in people and ("elm", "area@example.org") in people
    assert ("elm", "oak.manager@example.org") not in people


def test_removing_a_settings_file_stops_polling_it_and_keeps_its_history(tmp_path, db_url, sessions, clock):
    path = write_group(tmp_path, db_url)
    rt = build_group_runtime(load_group(path), clock=clock, sessions=sessions, classifier=Keywords())
    scripted(rt)["elm"].post("e1", "a bruise on her arm", clock())
    asyncio.run(run_cycle(rt))
    asyncio.run(rt.aclose())

    (tmp_path / "settings.d" / "elm.toml").unlink()
    rt = build_group_runtime(load_group(path), clock=clock, sessions=sessions, classifier=Keywords())
    try:
        assert [r.config.setting.key for r in rt.every_setting] == ["oak"]
        with sessions() as s:
            elm = s.scalar(select(Setting).where(Setting.key == "elm"))
            assert elm is not None and s.scalar(select(Account).where(Account.setting_id == elm.id)) is not None
            assert {i.external_id for i in s.scalars(select(Item).where(Item.setting_id == elm.id))} == {"e1"}
            assert s.scalars(select(Alert).where(Alert.setting_id == elm.id)).all()
            elm_accounts = set(s.scalars(select(Account.id).where(Account.setting_id == elm.id)))
        assert not elm_accounts & set(rt.all_connectors)
    finally:
        asyncio.run(rt.aclose())


def test_a_single_setting_config_from_config_runs_unchanged(tmp_path, monkeypatch, capsys):
    """config/demo.toml, as shipped, runs one cycle from a clean directory."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(ROOT / "config/demo.toml", tmp_path / "demo.toml")
    code = cli.main(["run", "--once", "--config", "demo.toml"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "cycle done:" in out and "alert(s)" in out
    assert (tmp_path / "data/demo/nurserywatch.db").exists()
