"""A second reader's blind labels beside the writer's, and the classifier against both."""
from __future__ import annotations

import json

import pytest

from classifiers import agreement as agreement_module
from classifiers.agreement import agreement, kappa, load_second
from classifiers.cli import evaluate
from classifiers.corpus import Example, load_split


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_kappa_is_one_for_readers_who_always_agree_and_counts_chance_out():
    same = [{"criticism"}, set(), {"criticism"}, set()]
    assert kappa(same, same, "criticism") == 1.0
    # observed agreement 3/4; chance 1/2 * 1/4 + 1/2 * 3/4 = 1/2; kappa (0.75 - 0.5) / 0.5
    assert kappa(same, [{"criticism"}, set(), set(), set()], "criticism") == pytest.approx(0.5)


def test_a_second_reading_names_its_comment_and_a_bad_line_is_refused_by_file_and_line(tmp_path):
    path = write(tmp_path / "dev.jsonl", [{"setting": "h", "source": "h_01.jsonl:1", "labels": ["criticism"]}])
    assert load_second(path=path) == {("h", "h_01.jsonl:1"): frozenset({"criticism"})}
    for bad, words in ([{"setting": "h", "labels": []}], "expected"), \
                      ([{"setting": "h", "source": "h_01.jsonl:1", "labels": ["rude"]}], "unknown label"), \
                      ([{"setting": "h", "source": "x:1", "labels": []}] * 2, "labelled twice"):
        with pytest.raises(ValueError, match=rf"dev.jsonl:\d+: .*{words}"):
            load_second(path=write(tmp_path / "dev.jsonl", bad))
    with pytest.raises(SystemExit, match="no second reading of the test split"):
        load_second("test", path=tmp_path / "test.jsonl")


def test_the_classifier_is_scored_against_each_reader_and_where_both_agree():
    examples = [Example("a", frozenset({"criticism"}), source="f:1"),
                Example("b", frozenset(), source="f:2"),
                Example("c", frozenset({"safeguarding"}), source="f:3"),
                Example("d", frozenset(), source="f:4")]  # the second reader skipped this one
    predicted = [{"criticism"}, {"criticism"}, set(), {"safeguarding"}]
    second = {("willowbrook", "f:1"): frozenset({"criticism"}), ("willowbrook", "f:2"): frozenset({"criticism"}),
              ("willowbrook", "f:3"): frozenset({"safeguarding"})}
    out = agreement(examples, predicted, second)
    assert (out["labelled"], out["of"], out["both readers agree"]) == (3, 4, 2)
    r = out["results"]
    assert r["second reader vs writer"]["labels"]["criticism"]["fp"] == 1  # "b": a reading, not a classifier error
    assert r["nurserywatch vs second reader"]["labels"]["criticism"]["fp"] == 0
    assert r["nurserywatch vs writer"]["labels"]["criticism"]["fp"] == 1
    both = r["nurserywatch where both agree"]
    assert both["n"] == 2 and both["labels"]["safeguarding"]["fn"] == 1  # "c" missed; "b" left out


def test_evaluate_with_agreement_reads_the_second_readers_file_for_the_split(tmp_path, monkeypatch):
    h = load_split("dev", settings={"h"})[:5]
    write(tmp_path / "dev.jsonl", [{"setting": e.setting, "source": e.source, "labels": sorted(e.labels)} for e in h])
    monkeypatch.setattr(agreement_module, "SECOND_DIR", tmp_path)
    out = evaluate("dev", settings={"h"}, agreement=True)["agreement"]
    assert out["labelled"] == 5 and out["both readers agree"] == 5
    assert all(k == 1.0 for k in out["kappa"].values())  # identical readings
    assert out["results"]["second reader vs writer"]["labels"]["criticism"]["fp"] == 0
