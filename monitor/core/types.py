"""Core value types shared by every stage (connectors -> store -> classifiers -> alerts).

They are plain frozen dataclasses so any stage can build or read them without
touching the database layer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

# The one definition of the label names; everything else reads CATEGORIES.
Category = Literal["safeguarding", "confidentiality", "criticism"]
CATEGORIES: tuple[str, ...] = get_args(Category)
Severity = Literal["low", "medium", "high"]
SEVERITIES: tuple[str, ...] = ("low", "medium", "high")
ItemKind = Literal["post", "comment", "reply", "mention", "review"]


@dataclass(frozen=True)
class FetchedItem:
    """One post, comment, reply, mention or review as a connector found it."""

    external_id: str
    kind: ItemKind
    text: str
    created_at: datetime  # timezone-aware, UTC
    author_name: str | None = None
    author_id: str | None = None
    parent_external_id: str | None = None
    permalink: str | None = None
    rating: int | None = None  # star rating 1..5 for reviews
    can_hide: bool | None = None
    is_hidden: bool = False
    updated_at: datetime | None = None
    attachment_type: str | None = None  # photo, sticker, animated_image_share (GIF), video, link...
    attachment_url: str | None = None
    source: str | None = None  # where it was found, for items not on the setting's own page


CursorKey = tuple[str, str]  # (stream, parent); parent "" for account-wide streams


@dataclass(frozen=True)
class KnownItem:
    """A stored comment as we last saw it, for a re-read that looks for changes on the platform."""

    external_id: str
    text: str
    is_hidden: bool


@dataclass(frozen=True)
class ItemChange:
    """What a re-read found different on the platform (None: unchanged)."""

    external_id: str
    text: str | None = None
    is_hidden: bool | None = None
    deleted: bool = False


@dataclass
class Batch:
    """Items a connector fetched and the cursor values that become true once they are stored."""

    items: list[FetchedItem]
    cursors: dict[CursorKey, dict] = field(default_factory=dict)
    unreadable: int = 0  # items the connector skipped because they did not parse


@dataclass(frozen=True)
class ThreadEntry:
    """One earlier message of the conversation a comment answers.

    A thread is oldest first: the post's own text, then the comments and
    replies before this one. `is_setting` marks the setting's own account.
    """

    text: str
    author: str | None = None
    is_setting: bool = False


@dataclass(frozen=True)
class Comment:
    """What the classifier judges: one comment, read the way a moderator who sees
    the whole thread would. Labels are for `text` alone; `thread` is context."""

    text: str
    platform: str | None = None
    rating: int | None = None
    thread: tuple[ThreadEntry, ...] = ()
    is_setting: bool = False  # written by the setting's own account: never criticism
    author: str | None = None


# Who a piece of evidence is about, when it names or points at a person.
About = Literal["child", "staff", "parent", "person"]


@dataclass(frozen=True)
class Evidence:
    """A span of the text that made a detector fire, and why, as fields.

    `reason` is written for a nursery manager and is the only part emails and
    pages show. `detector`, `rule` and `scores` are for engineers (the
    `classify` JSON, logs, evaluation): scores before and after context, the
    context cues that changed them, or the model's figures. `about` says who
    the span names or points at ("staff" routes an allegation to the LADO
    wording) so nothing downstream has to read the words of `reason`.
    """

    start: int
    end: int
    text: str
    reason: str
    detector: str = ""
    rule: str = ""
    about: str | None = None  # one of About, or None
    scores: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_json(self) -> dict:
        out: dict[str, Any] = {"start": self.start, "end": self.end, "text": self.text, "reason": self.reason,
                               "detector": self.detector, "rule": self.rule}
        if self.about:
            out["about"] = self.about
        if self.scores:
            out["scores"] = dict(self.scores)
        return out

    @classmethod
    def from_json(cls, data: dict) -> "Evidence":
        """Read stored evidence back. Rows written before evidence carried fields
        (no "detector" key) kept an engineer's sentence in "reason"; it is not
        shown to anyone, so their reason reads as "" (the caller falls back to
        the category's title)."""
        structured = "detector" in data
        return cls(
            start=int(data.get("start", 0)),
            end=int(data.get("end", 0)),
            text=str(data.get("text", "")),
            reason=str(data.get("reason", "")) if structured else "",
            detector=str(data.get("detector", "")),
            rule=str(data.get("rule", "")),
            about=data.get("about"),
            scores=dict(data.get("scores") or {}),
        )


@dataclass(frozen=True)
class Finding:
    category: str  # one of CATEGORIES
    severity: str  # one of SEVERITIES
    score: float  # 0..1
    evidence: tuple[Evidence, ...] = ()
    detector: str = ""

    def to_json(self) -> dict:
        return {
            "category": self.category,
            "severity": self.severity,
            "score": round(float(self.score), 4),
            "evidence": [e.to_json() for e in self.evidence],
        }


@dataclass(frozen=True)
class Classification:
    """What a classifier concluded about one text.

    `labels` is the subset of CATEGORIES that warrants an alert. `needs_review`
    marks text the classifier could not judge (another language, too short):
    it is never silently dropped.
    """

    labels: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    needs_review: bool = False
    note: str | None = None

    def to_json(self, item_id: str | None) -> dict:
        out: dict = {
            "id": item_id,
            "labels": list(self.labels),
            "findings": [f.to_json() for f in self.findings],
        }
        if self.needs_review:
            out["needs_review"] = True
            if self.note:
                out["note"] = self.note
        return out

    @property
    def severity(self) -> str | None:
        levels = [f.severity for f in self.findings if f.category in self.labels]
        if not levels:
            return None
        return max(levels, key=SEVERITIES.index)


@dataclass
class CycleReport:
    """What one pipeline cycle did, for the CLI and the logs."""

    fetched: int = 0
    stored: int = 0
    classified: int = 0
    alerts: int = 0
    backfilled: int = 0  # classified as part of a first poll's history: summarised, not alerted
    summaries: int = 0  # backfill summaries queued
    sent: int = 0
    delivery_problem: str | None = None  # why nothing (or not everything) could be delivered
    failed_accounts: list[str] = field(default_factory=list)
    timed_out: bool = False  # the cycle's deadline passed before it finished
