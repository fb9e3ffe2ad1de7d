"""`nurserywatch train` and `nurserywatch evaluate` (wired in by monitor/cli/main.py)."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

log = logging.getLogger("nurserywatch.classifiers")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train the shipped classifier model from the labelled corpus (train split only)"
    )
    p.add_argument("--output", type=Path, default=None,
                   help="where to write the model (default: classifiers/model inside the package)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the fixed project seed)")
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser(
        "evaluate", help="score nurserywatch and the keyword-list baseline on the dev set"
    )
    p.add_argument("--split", default="dev", choices=["dev", "test", "train"],
                   help="corpus split to score (default dev; test is a held-out set for another nursery)")
    p.add_argument("--config", "-c", type=Path, default=None,
                   help="setting and roster to classify with (default: classifiers/data/corpus_config.toml, "
                        "or test_config.toml for the test split)")
    p.add_argument("--model", type=Path, default=None, help="model directory (default: the shipped model)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=cmd_evaluate)


def cmd_train(args: argparse.Namespace) -> int:
    from .classifier import MODEL_DIR
    from .train import SEED, train

    output = args.output or MODEL_DIR
    started = time.monotonic()
    result = train(output=output, seed=SEED if args.seed is None else args.seed)
    print(f"trained on {result['examples']} train comments in {time.monotonic() - started:.0f} s -> {output}")
    oof = result["out_of_fold"]
    print("out-of-fold on train (each comment scored by a model that did not see it):")
    for label, t in result["thresholds"].items():
        m = oof["labels"][label]
        print(f"  {label:<16} threshold {t:.2f}  precision {m['precision']:.3f}  recall {m['recall']:.3f}  F1 {m['f1']:.3f}")
    print(f"  macro F1 {oof['macro_f1']:.3f}, benign false-alarm rate {oof['benign_false_alarm_rate']:.1%}")
    return 0


def evaluate(split: str = "dev", config_path: Path | None = None, model_dir: Path | None = None) -> dict:
    from monitor.core.settings import load_config

    from .baseline import KeywordBaseline
    from .classifier import MODEL_DIR, build_classifier
    from .corpus import CORPUS_CONFIG, TEST_CONFIG, load_split
    from .evaluate import score

    examples = load_split(split)
    if not examples:
        raise SystemExit(f"evaluate: no examples in classifiers/data/corpus/{split}/*.jsonl")
    cfg = load_config(config_path or (TEST_CONFIG if split == "test" else CORPUS_CONFIG))
    clf = build_classifier(cfg.setting, cfg.roster, model_dir=model_dir or MODEL_DIR)
    gold = [e.labels for e in examples]
    preds = clf.classify_batch([(e.text, e.platform, e.rating) for e in examples])
    baseline = KeywordBaseline()
    base = [baseline.classify(e.text, e.platform, e.rating) for e in examples]
    results = {
        "nurserywatch": score(gold, [p.labels for p in preds]),
        "keyword baseline": score(gold, [p.labels for p in base]),
    }
    results["nurserywatch"]["needs_review"] = sum(p.needs_review for p in preds)
    results["nurserywatch"]["model"] = clf.has_model
    return {"split": split, "results": results}


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import format_table

    out = evaluate(args.split, args.config, args.model)
    if args.json:
        json.dump(out, sys.stdout, indent=2)
        print()
        return 0
    results = out["results"]
    print(f"{args.split} split")
    print(format_table(results))
    nw = results["nurserywatch"]
    print(f"nurserywatch marked {nw['needs_review']} comment(s) for human review"
          + ("" if nw["model"] else " (no trained model found: rules only)"))
    return 0
