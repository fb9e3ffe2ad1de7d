"""The labelled corpus in classifiers/data/corpus/{train,dev}/*.jsonl.

Each line: {"text", "labels", "lang", "voice", "platform", optional "rating"}.
Train and dev are kept apart: training reads only train; evaluate reads dev.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from monitor.core.settings import Config, load_config
from monitor.core.types import CATEGORIES as LABELS  # the one definition of the label names

DATA_DIR = Path(__file__).parent / "data"
CORPUS_DIR = DATA_DIR / "corpus"
CORPUS_CONFIG = DATA_DIR / "corpus_config.toml"
# The held-out test split is written against another setting and roster, never
# used for training or tuning: it measures generalisation to an unseen nursery.
TEST_CONFIG = DATA_DIR / "test_config.toml"


@dataclass(frozen=True)
class Example:
    text: str
    labels: frozenset[str]
    lang: str = "en"
    voice: str = ""
    platform: str | None = None
    rating: int | None = None
    source: str = ""


def load_split(split: str, corpus_dir: Path = CORPUS_DIR) -> list[Example]:
    """All examples of one split ("train" or "dev"), in file order (sorted file names)."""
    out = []
    for path in sorted((corpus_dir / split).glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{n}: not JSON ({err.msg})") from None
            labels = frozenset(row.get("labels", []))
            unknown = labels - set(LABELS)
            if unknown:
                raise ValueError(f"{path}:{n}: unknown label(s) {sorted(unknown)}")
            out.append(Example(
                text=row["text"], labels=labels, lang=row.get("lang", "en"), voice=row.get("voice", ""),
                platform=row.get("platform"), rating=row.get("rating"), source=f"{path.name}:{n}",
            ))
    return out


def corpus_config(path: Path = CORPUS_CONFIG) -> Config:
    return load_config(path)
