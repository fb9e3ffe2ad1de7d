"""Render alert emails from Jinja2 templates: subject, text and HTML.

Templates come in threes (`<kind>.subject.txt`, `<kind>.txt`, `<kind>.html`);
autoescaping is on for the .html ones. Subjects are built from fixed words only
(category and platform names): they show on lock screens, so they carry no
names and no comment text.
"""
from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from alerts.policy import CATEGORY_TITLES, POLICY
from monitor.core.platforms import PLATFORM_NAMES
from monitor.core.types import Evidence

_env = Environment(
    loader=PackageLoader("alerts", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


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


def one_line(value: str) -> str:
    """Header values never carry line breaks (header injection)."""
    return " ".join(str(value).split())


def render(kind: str, context: dict) -> tuple[str, str, str]:
    ctx = {"category_titles": CATEGORY_TITLES, "policy": POLICY, "platform_names": PLATFORM_NAMES, **context}
    subject = one_line(_env.get_template(f"{kind}.subject.txt").render(ctx))
    text = _env.get_template(f"{kind}.txt").render(ctx)
    html = _env.get_template(f"{kind}.html").render(ctx)
    return subject, text, html


def build_message(
    *,
    kind: str,
    context: dict,
    from_addr: str,
    to_addr: str,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    date=None,
) -> EmailMessage:
    subject, text, html = render(kind, context)
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = one_line(from_addr)
    msg["To"] = one_line(to_addr)
    msg["Message-ID"] = message_id or make_msgid("nurserywatch", domain=from_addr.rpartition("@")[2] or None)
    if date is not None:
        msg["Date"] = format_datetime(date)
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg

