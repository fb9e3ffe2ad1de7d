"""`nurserywatch train` and `nurserywatch evaluate` (wired in by monitor/cli/main.py)."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from monitor.core.progress import shown, track

log = logging.getLogger("nurserywatch.classifiers")
SCORE_CHUNK = 100  # comments per classify call in `evaluate` (the steps of its progress bar)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train the shipped classifier model from the labelled corpus (train split only); "
                      "it replaces the current model only if no worse on the guard sets"
    )
    p.add_argument("--output", type=Path, default=None,
                   help="where to write the model (default: classifiers/model inside the package)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the fixed project seed)")
    p.add_argument("--force", action="store_true",
                   help="replace the model even when the new one is worse on the guard sets "
                        "(it misses a safeguarding concern the current one finds, or macro F1 falls by more than 0.01)")
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser(
        "evaluate", help="score nurserywatch and the keyword-list baseline on the dev set"
    )
    p.add_argument("--split", default="dev", choices=["dev", "test", "train"],
                   help="corpus split to score (default dev; test holds the held-out sets for other settings)")
    p.add_argument("--config", "-c", type=Path, default=None,
                   help="setting and roster to classify every comment with (default: each comment's own "
                        "setting: corpus_config.toml, test_config.toml or incoming/<KEY>/setting.toml)")
    p.add_argument("--setting", action="append", default=None, metavar="KEY",
                   help="only this setting's comments (repeatable): willowbrook, meadows, or an incoming KEY")
    p.add_argument("--model", type=Path, default=None, help="model directory (default: the shipped model)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--agreement", action="store_true",
                   help="also compare with a second reader's blind labels (classifiers/data/second/<split>.jsonl): "
                        "how far two readers agree, and nurserywatch against each")
    p.add_argument("--hold-out", default=None, metavar="KEY",
                   help="cross-setting evaluation: train a temporary model without setting KEY, then score "
                        "KEY's train and dev comments with it (takes minutes)")
    p.add_argument("--semantic", action="store_true",
                   help="also score with the semantic stage on, beside the fast path (needs the sentence model)")
    p.set_defaults(func=cmd_evaluate)


def cmd_train(args: argparse.Namespace) -> int:
    """Train into `--output` (default: the shipped model). A model already there is replaced only when
    the new one is no worse on the guard sets (classifiers/guard.py) or with --force; otherwise the new
    one is left beside it as `<output>.candidate` and the command exits with 3."""
    from .classifier import MODEL_DIR
    from .train import SEED, train

    output = args.output or MODEL_DIR
    current = output if (output / "config.cfg").exists() else None
    if current is None and output.exists() and (not output.is_dir() or any(output.iterdir())):
        print(f"train: {output} exists and is not a model folder; give --output a new or empty folder "
              "(training replaces the folder's contents)", file=sys.stderr)
        return 2
    written = output.with_name(output.name + ".candidate") if current else output
    started = time.monotonic()
    with shown():  # minutes of work: bars on a terminal, nothing in a log
        result = train(output=written, seed=SEED if args.seed is None else args.seed)
    print(f"trained on {result['examples']} train comments in {time.monotonic() - started:.0f} s -> {written}")
    _print_training(result)
    return _install(written, current, args.force) if current else 0


def _install(candidate: Path, current: Path, force: bool) -> int:
    """Replace `current` with `candidate` when the guard finds it no worse (or `force`)."""
    import shutil

    from .guard import SPLITS, comparison_lines, regressions

    print(f"comparing with the model it would replace ({current}) on the guard sets:")
    before, after = ({s: guard_evaluator(d)(s, None) for s in SPLITS} for d in (current, candidate))
    print("\n".join(comparison_lines(before, after)))
    why = regressions(before, after)
    if why and not force:
        print(f"NOT installed: {'; '.join(why)}. The current model stays; the new one is in {candidate} "
              "(--force installs it anyway).")
        return 3
    old = current.with_name(current.name + ".replaced")
    shutil.rmtree(old, ignore_errors=True)
    current.rename(old)  # a crash from here on leaves both models on disk, never neither
    candidate.rename(current)
    shutil.rmtree(old)
    print(f"installed: {current}" + (f" (with --force: {'; '.join(why)})" if why else ""))
    return 0


def guard_evaluator(model_dir: Path | None = None):
    """(split, corrections) -> nurserywatch's figures on that guard split (guard.GUARD_SETTINGS) with the
    model in `model_dir` and the given corrections."""
    from .guard import GUARD_SETTINGS

    return lambda split, corrections: evaluate(split, model_dir=model_dir, settings=GUARD_SETTINGS[split],
                                               corrections=corrections)["results"]["nurserywatch"]


def _print_training(result: dict) -> None:
    oof = result["out_of_fold"]
    print("out-of-fold on train (each comment scored by a model that did not see it):")
    for label, t in result["thresholds"].items():
        m = oof["labels"][label]
        print(f"  {label:<16} threshold {t:.2f}  precision {m['precision']:.3f}  recall {m['recall']:.3f}  F1 {m['f1']:.3f}")
    print(f"  macro F1 {oof['macro_f1']:.3f}, benign false-alarm rate {oof['benign_false_alarm_rate']:.1%}")
    stage = result["semantic"]
    if stage is None:
        print("semantic stage: not fitted (the sentence model is not installed)")
        return
    oof = stage["out_of_fold"]
    print(f"semantic stage, out-of-fold (labels re-read from {stage['floor']:.1f} x the threshold):")
    for label, t in stage["thresholds"].items():
        m = oof["labels"][label]
        print(f"  {label:<16} threshold {t:.2f}  precision {m['precision']:.3f}  recall {m['recall']:.3f}  F1 {m['f1']:.3f}")
    print(f"  macro F1 {oof['macro_f1']:.3f}, benign false-alarm rate {oof['benign_false_alarm_rate']:.1%}")


def evaluate(split: str = "dev", config_path: Path | None = None, model_dir: Path | None = None,
             settings: set[str] | None = None, corrections=None, agreement: bool = False,
             semantic: bool = False) -> dict:
    """Score nurserywatch and the keyword baseline on one split, per setting (each with its own
    roster) and over all of them; `corrections` (a setting's lessons, corrections.py) on top;
    with `agreement`, beside a second reader's labels (agreement.py); with `semantic`, also
    nurserywatch with the semantic stage on ("+ semantic")."""
    from monitor.core.settings import load_config

    from .baseline import KeywordBaseline
    from .classifier import MODEL_DIR, build_classifier
    from .corpus import load_split, setting_configs
    from .evaluate import LABELS, reliability, score

    examples = load_split(split, settings=settings)
    if not examples:
        raise SystemExit(f"evaluate: no examples in the {split} split" + (f" for {sorted(settings)}" if settings else ""))
    configs = setting_configs()
    by_setting: dict[str, list] = {}
    for e in examples:
        by_setting.setdefault(e.setting, []).append(e)
    baseline = KeywordBaseline()
    gold, preds, base, per, scored, order, second = [], [], [], {}, [], [], []
    for key, group in by_setting.items():
        order += group
        cfg = load_config(config_path) if config_path else configs[key]
        clf = build_classifier(cfg.setting, cfg.roster, model_dir=model_dir or MODEL_DIR, corrections=corrections)
        comments = [e.comment() for e in group]
        chunks = [comments[i:i + SCORE_CHUNK] for i in range(0, len(comments), SCORE_CHUNK)]
        deep = build_classifier(cfg.setting, cfg.roster, model_dir=model_dir or MODEL_DIR, corrections=corrections,
                                semantic=True) if semantic else None
        mine, theirs_deep = [], []
        for chunk in track(chunks, f"scoring {split}, setting {key}"):
            mine += clf.classify_batch(chunk)
            scored += clf.scores_batch(chunk)
            theirs_deep += deep.classify_batch(chunk) if deep else []
        theirs = [baseline.classify(e.text, e.platform, e.rating) for e in group]
        g = [e.labels for e in group]
        per[key] = {"nurserywatch": score(g, [p.labels for p in mine]),
                    "keyword baseline": score(g, [p.labels for p in theirs])}
        per[key]["nurserywatch"]["needs_review"] = sum(p.needs_review for p in mine)
        if deep:
            per[key] = {"nurserywatch": per[key]["nurserywatch"], SEMANTIC: score(g, [p.labels for p in theirs_deep]),
                        "keyword baseline": per[key]["keyword baseline"]}
            second += theirs_deep
        gold += g
        preds += mine
        base += theirs
    results = {
        "nurserywatch": score(gold, [p.labels for p in preds]),
        "keyword baseline": score(gold, [p.labels for p in base]),
    }
    results["nurserywatch"]["needs_review"] = sum(p.needs_review for p in preds)
    if semantic:
        results = {"nurserywatch": results["nurserywatch"], SEMANTIC: score(gold, [p.labels for p in second]),
                   "keyword baseline": results["keyword baseline"]}
    results["nurserywatch"]["model"] = clf.has_model
    levels = {}
    for level in ("normal", "high"):
        thresholds = clf.fitted.for_sensitivity(level).thresholds
        pred = [{lab for lab in LABELS if s[lab] >= thresholds.get(lab, 0.5)
                 and not (lab == "criticism" and sig.get("is_setting"))} for s, sig in scored]
        levels[level] = {**score(gold, pred), "thresholds": {lab: thresholds.get(lab, 0.5) for lab in LABELS}}
    out = {"split": split, "results": results, "settings": per, "sensitivity": levels,
           "reliability": reliability(gold, [s for s, _ in scored])}
    if agreement:
        from .agreement import agreement as compare, load_second

        out["agreement"] = compare(order, [p.labels for p in preds], load_second(split))
    return out


SEMANTIC = "+ semantic"  # the column of nurserywatch with the semantic stage on


def cross_setting(key: str, semantic: bool = False) -> dict:
    """Train without setting `key` (a temporary model) and score all of `key`'s train and dev comments."""
    import tempfile

    from .corpus import load_split
    from .train import train

    examples = load_split("train", settings={key}) + load_split("dev", settings={key})
    if not examples:
        raise SystemExit(f"evaluate: setting {key!r} has no train or dev comments to hold out")
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model"
        train(output=model, without={key}, semantic=semantic)
        splits = [s for s in ("train", "dev") if load_split(s, settings={key})]
        runs = {s: evaluate(s, None, model, {key}, semantic=semantic) for s in splits}
    return {"hold_out": key, "runs": runs}


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import format_levels, format_reliability, format_table

    if args.hold_out:
        with shown():
            out = cross_setting(args.hold_out, args.semantic)
        if args.json:
            json.dump(out, sys.stdout, indent=2)
            print()
            return 0
        for split, run in out["runs"].items():
            print(f"setting {args.hold_out} held out of training; its {split} comments:")
            print(format_table(run["results"]))
            print()
        return 0
    settings = set(args.setting) if args.setting else None
    with shown():  # bars on a terminal, nothing in a log
        out = evaluate(args.split, args.config, args.model, settings, agreement=args.agreement,
                       semantic=args.semantic)
    if args.json:
        json.dump(out, sys.stdout, indent=2)
        print()
        return 0
    for key, results in out["settings"].items():
        if len(out["settings"]) > 1:
            print(f"{args.split} split, setting {key}")
            print(format_table(results))
            print()
    results = out["results"]
    print(f"{args.split} split" + (", all settings" if len(out["settings"]) > 1 else ""))
    print(format_table(results))
    nw = results["nurserywatch"]
    print(f"nurserywatch marked {nw['needs_review']} comment(s) for human review"
          + ("" if nw["model"] else " (no trained model found: rules only)"))
    print()
    print(format_levels(out["sensitivity"]))
    print()
    print(format_reliability(out["reliability"]))
    if args.agreement:
        a = out["agreement"]
        print()
        print(f"a second reader's blind labels: {a['labelled']} of {a['of']} comments, "
              f"the same labels as the writer's on {a['both readers agree']}; Cohen's kappa "
              + ", ".join(f"{label} {k:.2f}" for label, k in a["kappa"].items()))
        print(format_table(a["results"]))
    return 0
