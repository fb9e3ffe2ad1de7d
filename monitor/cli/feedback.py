"""`nurserywatch train --with-feedback --config FILE` (see monitor/feedback_training.py).

The `train` command belongs to the classifiers stage; the feedback option
needs the database and the configuration, so the application adds it here to
the stage's parser and sends plain `train` on unchanged.
"""
from __future__ import annotations

import argparse
import sys

from monitor.core.settings import ConfigError, load_config


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.choices["train"]
    p.add_argument("--with-feedback", action="store_true",
                   help="also train on this setting's labelled examples from the web app; print before/after "
                        "figures on the shipped dev and test sets and install the model (in the data directory) "
                        "only if it is not worse (needs --config)")
    p.add_argument("--config", "-c", metavar="FILE", help="the configuration (for --with-feedback)")
    plain = p.get_default("func")

    def dispatch(args: argparse.Namespace) -> int:
        return cmd_train_with_feedback(args) if args.with_feedback else plain(args)

    p.set_defaults(func=dispatch)


def cmd_train_with_feedback(args: argparse.Namespace) -> int:
    from classifiers.cli import evaluate
    from classifiers.train import SEED, train
    from monitor.core.db import open_database
    from monitor.core.models import Setting
    from monitor.feedback_training import feedback_examples, retrain

    if not args.config:
        raise ConfigError("train --with-feedback: give the configuration with --config FILE")
    config = load_config(args.config)
    db = open_database(config.database.url)
    try:
        with db() as session:
            setting = session.query(Setting).filter_by(key=config.setting.key).one_or_none()
            examples = feedback_examples(session, setting.id) if setting else []
    finally:
        db.dispose()
    seed = SEED if args.seed is None else args.seed
    try:
        report = retrain(
            config, examples,
            trainer=lambda output, extra: train(output=output, seed=seed, extra=extra),
            evaluator=lambda split, model_dir: evaluate(split, model_dir=model_dir)["results"]["nurserywatch"],
        )
    except ValueError as err:
        print(f"train --with-feedback: {err}", file=sys.stderr)
        return 1
    print("\n".join(report.lines()))
    return 0 if report.installed else 3
