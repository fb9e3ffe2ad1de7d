"""A group file: shared sections, one file per setting, group people; check-config names the file and the key."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from monitor import cli
from monitor.core.group import load_group, load_setting
from monitor.core.settings import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]

GROUP = """
[group]
name = "Oakfield Nurseries"
settings = "settings.d/*.toml"

[database]
url = "sqlite:///{db}"

[[recipients]]
name = "Ruth Area"
email = "area@example.org"
roles = ["area_manager"]
settings = ["*"]

[[recipients]]
name = "Grace Safe"
email = "group-dsl@example.org"
roles = ["group_dsl"]
settings = ["oak"]
"""

SETTING = """
[setting]
key = "{key}"
name = "{name}"

[[recipients]]
name = "{manager}"
email = "{key}.manager@example.org"
roles = ["manager", "dsl"]

[[accounts]]
platform = "demo"
id = "{key}-page"
"""


def write_group(tmp_path: Path, settings: dict[str, str] | None = None, group: str = GROUP) -> Path:
    d = tmp_path / "settings.d"
    d.mkdir(exist_ok=True)
    settings = settings if settings is not None else {
        "oak": SETTING.format(key="oak", name="Oak Nursery", manager="Ann Oak"),
        "elm": SETTING.format(key="elm", name="Elm Nursery", manager="Ben Elm"),
    }
    for name, text in settings.items():
        (d / f"{name}.toml").write_text(text)
    path = tmp_path / "group.toml"
    path.write_text(group.format(db=tmp_path / "nw.db"))
    return path


def run_cli(args, monkeypatch):
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    return cli.main(args), out.getvalue(), err.getvalue()


def test_a_group_file_gives_one_whole_config_per_setting_with_the_shared_sections(tmp_path):
    group = load_group(write_group(tmp_path))
    assert group.is_group and group.name == "Oakfield Nurseries"
    assert group.keys == ["elm", "oak"]  # files in name order
    elm, oak = group.configs
    assert oak.database.url == elm.database.url == f"sqlite:///{tmp_path / 'nw.db'}"
    assert [a.id for a in oak.accounts] == ["oak-page"] and [a.id for a in elm.accounts] == ["elm-page"]
    assert oak.source == tmp_path / "settings.d" / "oak.toml" and oak.group == "Oakfield Nurseries"


def test_group_people_join_the_settings_they_cover_and_no_others(tmp_path):
    oak, elm = (load_setting(write_group(tmp_path), key) for key in ("oak", "elm"))
    assert {r.email: r.roles for r in oak.recipients} == {
        "oak.manager@example.org": ["manager", "dsl"], "area@example.org": ["area_manager"],
        "group-dsl@example.org": ["group_dsl"]}
    assert {r.email for r in elm.recipients} == {"elm.manager@example.org", "area@example.org"}


def test_a_person_in_the_group_file_and_a_setting_file_holds_both_sets_of_roles(tmp_path):
    text = SETTING.format(key="oak", name="Oak", manager="Ruth Area").replace("oak.manager@", "area@")
    oak = load_setting(write_group(tmp_path, {"oak": text}), "oak")
    assert [r.roles for r in oak.recipients if r.email == "area@example.org"] == [["manager", "dsl", "area_manager"]]


def test_a_group_escalates_one_rung_further_unless_the_file_says_otherwise(tmp_path):
    assert load_setting(write_group(tmp_path), "oak").escalation.max_steps == 4
    set_steps = GROUP + "\n[escalation]\nmax_steps = 2\n"
    assert load_setting(write_group(tmp_path, group=set_steps), "oak").escalation.max_steps == 2


def test_a_single_setting_file_from_before_groups_is_a_group_of_one_read_unchanged():
    for name in ("example.toml", "demo.toml", "docker.toml"):
        group = load_group(ROOT / "config" / name)
        assert not group.is_group and len(group.configs) == 1
        assert group.configs[0].model_dump() == load_config(ROOT / "config" / name).model_dump()
        assert load_setting(ROOT / "config" / name).setting.name == group.configs[0].setting.name


def test_the_example_group_under_config_is_valid():
    group = load_group(ROOT / "config/group/group.toml")
    assert group.keys == ["oakfield-colchester", "oakfield-ipswich"]
    assert all(c.group == "Oakfield Nurseries" for c in group.configs)


def test_a_setting_command_on_a_group_needs_the_setting_key_and_names_the_keys(tmp_path):
    path = write_group(tmp_path)
    with pytest.raises(ConfigError, match=r"--setting KEY \(one of: elm, oak\)"):
        load_setting(path)
    with pytest.raises(ConfigError, match=r"no setting has the key 'ash' \(keys: elm, oak\)"):
        load_setting(path, "ash")


@pytest.mark.parametrize("bad, file, line", [
    ({"oak": SETTING.format(key="oak", name="Oak", manager="A").replace('platform = "demo"', 'platform = "myspace"')},
     "oak.toml", "accounts[0].platform: Input should be"),
    ({"oak": SETTING.format(key="oak", name="Oak", manager="A").replace('key = "oak"\n', "")},
     "oak.toml", "setting.key: required in a group's setting file"),
    ({"oak": SETTING.format(key="oak", name="Oak", manager="A").replace('key = "oak"', 'key = "Oak Tree"')},
     "oak.toml", "setting.key: 'Oak Tree': use lower-case letters"),
    ({"oak": SETTING.format(key="oak", name="Oak", manager="A"), "oak2": SETTING.format(key="oak", name="O", manager="B")},
     "oak2.toml", "setting.key: 'oak' is also the key of"),
    ({"oak": SETTING.format(key="oak", name="Oak", manager="A") + "\n[database]\nurl = 'sqlite:///x'\n"},
     "oak.toml", "database: unknown key"),
])
def test_check_config_names_the_file_and_the_key_of_each_error(tmp_path, monkeypatch, bad, file, line):
    settings = {"elm": SETTING.format(key="elm", name="Elm", manager="B").replace("demo", "nope"), **bad}
    code, out, err = run_cli(["check-config", "--config", str(write_group(tmp_path, settings))], monkeypatch)
    assert code == 2 and out == ""
    blocks = {b.split(":")[0]: b for b in err.split("\n" + str(tmp_path)) if b.strip()}
    ours = next(b for name, b in blocks.items() if name.endswith(file))
    assert line in ours
    elm = next(b for name, b in blocks.items() if name.endswith("elm.toml"))  # every file is checked, not the first
    assert "accounts[0].platform" in elm


def test_a_group_person_covering_an_unknown_setting_key_is_an_error_in_the_group_file(tmp_path):
    path = write_group(tmp_path, group=GROUP.replace('settings = ["oak"]', 'settings = ["ash"]'))
    with pytest.raises(ConfigError) as err:
        load_group(path)
    assert str(err.value).startswith(f"{path}: ") and "recipients[1].settings: no setting has the key 'ash'" in str(err.value)


def test_a_group_whose_glob_matches_nothing_says_so(tmp_path):
    path = write_group(tmp_path, {})
    with pytest.raises(ConfigError, match=r"group.settings: 'settings.d/\*.toml' matches no file"):
        load_group(path)


def test_check_config_on_a_ready_group_lists_every_setting(tmp_path, monkeypatch):
    code, out, err = run_cli(["check-config", "--config", str(write_group(tmp_path))], monkeypatch)
    assert code == 0, err
    assert "oak.toml: OK: Oak Nursery (oak), 1 account(s), 3 recipient(s)" in out
    assert "elm.toml: OK: Elm Nursery (elm), 1 account(s), 2 recipient(s)" in out
    assert "group 'Oakfield Nurseries', 2 setting(s)" in out


def test_check_config_names_the_group_file_for_a_shared_problem_once(tmp_path, monkeypatch):
    monkeypatch.delenv("NURSERYWATCH_SECRET_KEY")
    code, _out, err = run_cli(["check-config", "--config", str(write_group(tmp_path))], monkeypatch)
    assert code == 1
    assert err.count("web.secret_key_env") == 1
    assert err.startswith(f"{tmp_path / 'group.toml'}: valid, but not ready to run:")


def test_a_one_setting_command_takes_the_setting_key(tmp_path, monkeypatch):
    path = str(write_group(tmp_path))
    code, _out, err = run_cli(["accounts", "--config", path], monkeypatch)
    assert code == 2 and "--setting KEY (one of: elm, oak)" in err
    code, out, err = run_cli(["accounts", "--config", path, "--setting", "elm"], monkeypatch)
    assert code == 0, err
    assert "elm-page" in out and "oak-page" not in out


def test_each_setting_of_a_group_keeps_its_own_files_and_a_single_setting_keeps_data_dir(tmp_path):
    from monitor.feedback_training import corrections_file

    oak, elm = (load_setting(write_group(tmp_path), key) for key in ("oak", "elm"))
    assert corrections_file(oak) != corrections_file(elm)
    assert corrections_file(oak) == Path("data/settings/oak/corrections.json")
    assert corrections_file(load_setting(ROOT / "config/example.toml")) == Path("data/corrections.json")
