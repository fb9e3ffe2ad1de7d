"""What an alert shows, in any channel: the comment split into plain and
evidence segments, and safe links.

The channels render it (email: `alerts/channels/email/`), at delivery time.
"""
from __future__ import annotations

from dataclasses import dataclass

from monitor.core.types import Evidence


@dataclass(frozen=True)
class Segment:
    text: str
    reason: str | None = None  # set when this piece is evidence


def highlight(text: str, evidence: list[dict]) -> list[Segment]:
    """Split text into plain and evidence segments (overlaps merged).

    `evidence` is stored evidence (`Evidence.to_json()`); only its plain reason
    is kept, for the highlight's tooltip.
    """
    spans = sorted(
        (max(0, ev.start), min(len(text), ev.end), ev.reason)
        for ev in map(Evidence.from_json, evidence)
        if ev.end > ev.start
    )
    merged: list[list] = []
    for start, end, reason in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            if reason and reason not in merged[-1][2]:
                merged[-1][2] = "; ".join(filter(None, (merged[-1][2], reason)))
        else:
            merged.append([start, end, reason])
    out: list[Segment] = []
    pos = 0
    for start, end, reason in merged:
        if start > pos:
            out.append(Segment(text[pos:start]))
        out.append(Segment(text[start:end], reason or "flagged words"))
        pos = end
    if pos < len(text):
        out.append(Segment(text[pos:]))
    return out


def safe_url(url: str | None) -> str | None:
    """Only http(s) links reach a template (no javascript: or data: from a platform)."""
    if not url:
        return None
    url = url.strip()
    if not url.lower().startswith(("https://", "http://")) or any(c in url for c in "\r\n\t \"'<>"):
        return None
    return url
