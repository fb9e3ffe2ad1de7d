"""The labelled corpus: comments written for several settings, each with its roster.

Layout (classifiers/data/):
- corpus/{train,dev}/*.jsonl   Willowbrook Day Nursery (corpus_config.toml)
- corpus/test/*.jsonl          Little Meadows Pre-School (test_config.toml), held out
- incoming/<KEY>/setting.toml  another setting and its roster
- incoming/<KEY>/{train,dev,test}/*.jsonl

Each line: {"text", "labels", "lang", "voice", "platform", optional "rating",
"setting" (the KEY; defaults to the folder's setting) and "thread" (the
earlier messages, oldest first, post first)}. A comment whose voice is
"setting" was written by the setting's own account. Splits are kept apart:
training reads only train; `evaluate` reads dev or test and never trains on it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from monitor.core.settings import Config, load_config
from monitor.core.types import CATEGORIES as LABELS  # the one definition of the label names
from monitor.core.types import Comment, ThreadEntry

from .thread_input import ThreadError, parse_thread

DATA_DIR = Path(__file__).parent / "data"
CORPUS_DIR = DATA_DIR / "corpus"
INCOMING_DIR = DATA_DIR / "incoming"
CORPUS_CONFIG = DATA_DIR / "corpus_config.toml"
# The held-out test split is written against another setting and roster, never
# used for training or tuning: it measures generalisation to an unseen nursery.
TEST_CONFIG = DATA_DIR / "test_config.toml"
HOME = "willowbrook"  # corpus/train and corpus/dev
HOME_TEST = "meadows"  # corpus/test
SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Example:
    text: str
    labels: frozenset[str]
    lang: str = "en"
    voice: str = ""
    platform: str | None = None
    rating: int | None = None
    source: str = ""
    setting: str = HOME
    thread: tuple[ThreadEntry, ...] = ()

    def comment(self, text: str | None = None) -> Comment:
        """What the classifier is given (optionally with the text rewritten, e.g. names swapped)."""
        return Comment(self.text if text is None else text, self.platform, self.rating, self.thread,
                       is_setting=self.voice == "setting")


def setting_dirs(incoming_dir: Path = INCOMING_DIR) -> dict[str, Path]:
    return {p.name: p for p in sorted(incoming_dir.iterdir()) if (p / "setting.toml").exists()} \
        if incoming_dir.exists() else {}


def setting_configs(incoming_dir: Path = INCOMING_DIR) -> dict[str, Config]:
    """Every setting the corpus was written for, by key: its name, aliases, phone, address and roster."""
    out = {HOME: load_config(CORPUS_CONFIG), HOME_TEST: load_config(TEST_CONFIG)}
    for key, path in setting_dirs(incoming_dir).items():
        out[key] = load_config(path / "setting.toml")
    return out


def _files(split: str, corpus_dir: Path, incoming_dir: Path) -> list[tuple[Path, str]]:
    home = HOME_TEST if split == "test" else HOME
    files = [(p, home) for p in sorted((corpus_dir / split).glob("*.jsonl"))]
    for key, path in setting_dirs(incoming_dir).items():
        files += [(p, key) for p in sorted((path / split).glob("*.jsonl"))]
    return files


def load_split(split: str, corpus_dir: Path = CORPUS_DIR, incoming_dir: Path = INCOMING_DIR,
               settings: set[str] | None = None) -> list[Example]:
    """All examples of one split, in file order; only `settings` (keys) when given."""
    out = []
    for path, default_setting in _files(split, corpus_dir, incoming_dir):
        if settings is not None and default_setting not in settings:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                thread = parse_thread(row.get("thread"))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{n}: not JSON ({err.msg})") from None
            except ThreadError as err:
                raise ValueError(f"{path}:{n}: {err}") from None
            labels = frozenset(row.get("labels", []))
            unknown = labels - set(LABELS)
            if unknown:
                raise ValueError(f"{path}:{n}: unknown label(s) {sorted(unknown)}")
            out.append(Example(
                text=row["text"], labels=labels, lang=row.get("lang", "en"), voice=row.get("voice", ""),
                platform=row.get("platform"), rating=row.get("rating"), source=f"{path.name}:{n}",
                setting=row.get("setting", default_setting), thread=thread,
            ))
    return out


def corpus_config(path: Path = CORPUS_CONFIG) -> Config:
    return load_config(path)
