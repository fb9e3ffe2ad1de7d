"""Render a queued message as an email: subject, text and HTML from Jinja2.

Templates come in threes (`<kind>.subject.txt`, `<kind>.txt`, `<kind>.html`);
autoescaping is on for the .html ones. Subjects are built from fixed words only
(category and platform names): they show on lock screens, so they carry no
names and no comment text.

This is the rendering edge, so untrusted text is made harmless here: names
from a platform or the config (author, setting, person) are flattened to one
line, so a "Bcc:" smuggled after a line break cannot pose as a header or a
line of its own; the comment keeps its line breaks but loses carriage returns
and other control characters; bidirectional overrides and isolates
(U+202A-202E, U+2066-2069), which can make text read backwards, are removed
everywhere.
"""
from __future__ import annotations

import re
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import format_datetime

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from alerts.channels.base import Message
from monitor.core.platforms import PLATFORM_NAMES
from alerts.policy import CATEGORY_TITLES, POLICY

_env = Environment(
    loader=PackageLoader("alerts.channels.email", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\x85\u2028\u2029]")  # keeps \t and \n
MULTILINE_KEYS = frozenset({"text"})  # the comment itself (in `segments`)


def one_line(value: str) -> str:
    """Header values and names never carry line breaks (header injection)."""
    return " ".join(_BIDI.sub("", str(value)).split())


def clean(value, key: str | None = None):
    """Every string in a context made safe to show (see the module docstring)."""
    if isinstance(value, str):
        if key in MULTILINE_KEYS:
            return _CONTROL.sub("", _BIDI.sub("", value.replace("\r\n", "\n")))
        return one_line(value)
    if isinstance(value, dict):
        return {k: clean(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v, key) for v in value]
    return value


def _context(context: dict) -> dict:
    return {"category_titles": CATEGORY_TITLES, "policy": POLICY, "platform_names": PLATFORM_NAMES, **clean(context)}


def subject(template: str, context: dict) -> str:
    """The subject alone: fixed words only, so other channels may use it as a title."""
    return one_line(_env.get_template(f"{template}.subject.txt").render(_context(context)))


def render(template: str, context: dict) -> tuple[str, str, str]:
    ctx = _context(context)
    subject = one_line(_env.get_template(f"{template}.subject.txt").render(ctx))
    text = _env.get_template(f"{template}.txt").render(ctx)
    html = _env.get_template(f"{template}.html").render(ctx)
    return subject, text, html


def mail_domain(from_addr: str) -> str:
    return from_addr.rpartition("@")[2] or "nurserywatch.invalid"


def stable_message_id(message: Message, from_addr: str) -> str:
    """The same Message-ID on every attempt: a resend after a crash is
    recognisably the same email."""
    stamp = int(message.created_at.timestamp()) if message.created_at else 0
    return f"<nurserywatch.{message.id}.{stamp}@{mail_domain(from_addr)}>"


def build_email(message: Message, from_addr: str) -> EmailMessage:
    """The email for one queued message (raises on a template fault)."""
    subject, text, html = render(message.template, message.context)
    msg = EmailMessage(policy=smtp_policy(message.address, from_addr))
    msg["Subject"] = subject
    msg["From"] = one_line(from_addr)
    msg["To"] = one_line(message.address)
    msg["Message-ID"] = message.message_id or stable_message_id(message, from_addr)
    if message.created_at is not None:
        msg["Date"] = format_datetime(message.created_at)
    if message.in_reply_to:
        msg["In-Reply-To"] = message.in_reply_to
        msg["References"] = message.in_reply_to
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def smtp_policy(*addresses: str):
    """SMTPUTF8 only when an address needs it; the transport then needs the server's SMTPUTF8."""
    return email_policy.SMTP if all(a.isascii() for a in addresses) else email_policy.SMTPUTF8
