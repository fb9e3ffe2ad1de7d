"""train / evaluate wiring, the baseline, the metrics and training determinism."""
import argparse

from classifiers.baseline import KeywordBaseline
from classifiers.cli import register
from classifiers.corpus import Example
from classifiers.evaluate import format_table, score


def test_register_adds_train_and_evaluate_with_a_func():
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    for argv in (["train"], ["evaluate", "--json"]):
        args = parser.parse_args(argv)
        assert callable(args.func)


def test_score_counts_precision_recall_and_benign_false_alarms():
    gold = [{"safeguarding"}, set(), set(), {"criticism"}]
    pred = [{"safeguarding"}, {"criticism"}, set(), set()]
    s = score(gold, pred)
    assert s["labels"]["safeguarding"]["f1"] == 1.0
    assert s["labels"]["criticism"]["recall"] == 0.0
    assert s["benign_false_alarm_rate"] == 0.5
    assert "macro F1" in format_table({"a": s, "b": s})


def test_keyword_baseline_fires_on_any_listed_word_without_context():
    b = KeywordBaseline()
    assert "safeguarding" in b.classify("no bruises today!").labels  # blind to negation, by design
    assert not b.classify("Lovely day at the farm").labels


def test_training_is_deterministic_for_a_seed():
    from classifiers.train import predict, train_textcat

    examples = [
        Example("he came home with a bruise", frozenset({"safeguarding"})),
        Example("staff are rude and lazy", frozenset({"criticism"})),
        Example("lovely day thank you", frozenset()),
        Example("Amelia has autism", frozenset({"confidentiality"})),
    ] * 3
    a = predict(train_textcat(examples, seed=7, epochs=2), ["a bruise and rude staff"])
    b = predict(train_textcat(examples, seed=7, epochs=2), ["a bruise and rude staff"])
    assert (a == b).all()
