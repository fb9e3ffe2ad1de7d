"""Core value types shared by every stage (connectors -> store -> classifiers -> alerts).

They are plain frozen dataclasses so any stage can build or read them without
touching the database layer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Category = Literal["safeguarding", "confidentiality", "criticism"]
CATEGORIES: tuple[str, ...] = ("safeguarding", "confidentiality", "criticism")
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


CursorKey = tuple[str, str]  # (stream, parent); parent "" for account-wide streams


@dataclass
class Batch:
    """Items a connector fetched and the cursor values that become true once they are stored."""

    items: list[FetchedItem]
    cursors: dict[CursorKey, dict] = field(default_factory=dict)


@dataclass(frozen=True)
class Evidence:
    """A span of the text that made a detector fire, and why."""

    start: int
    end: int
    text: str
    reason: str

    def to_json(self) -> dict:
        return {"start": self.start, "end": self.end, "text": self.text, "reason": self.reason}


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
    sent: int = 0
    failed_accounts: list[str] = field(default_factory=list)
