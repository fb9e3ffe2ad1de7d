"""The record for inspection: the audit log for a date range, on a page and as CSV.

Who saw, acknowledged, noted, hid and closed each alert (with outcome and
reference), and who changed phrases, the roster and the accounts. Events about
an alert a person may not see (it names them) are left out of their view and
their export, by the same rule as the inbox.
"""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from alerts.visibility import READER_ROLES, Viewer
from monitor.core.models import Alert, AuditEvent, Item, Recipient
from monitor.web.auth import app_page, need_role, require
from monitor.web.inbox import ACTION_NAMES
from monitor.web.pages import SECURITY_HEADERS, WebDeps, off_loop

DEFAULT_DAYS = 30
COLUMNS = ["time", "who", "action", "alert", "categories", "outcome", "referred_to", "reference", "note", "ip"]


def _day(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        return default


def _cell(value) -> str:
    """Spreadsheet-safe: a cell that starts like a formula is quoted."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def routes(deps: WebDeps) -> list[Route]:
    def events(request: Request):
        who = require(deps, request)
        today = deps.clock().astimezone(deps.env.timezone).date()
        start = _day(request.query_params.get("from"), today - timedelta(days=DEFAULT_DAYS))
        end = _day(request.query_params.get("to"), today)
        tz = deps.env.timezone
        lo = datetime.combine(start, time.min, tz)
        hi = datetime.combine(end + timedelta(days=1), time.min, tz)
        with deps.sessions() as session:
            person = session.get(Recipient, who.recipient_id)
            need_role(person, READER_ROLES)
            viewer = Viewer(session, deps.env, person)
            rows = session.scalars(select(AuditEvent).where(
                AuditEvent.setting_id == deps.env.setting_id, AuditEvent.created_at >= lo, AuditEvent.created_at < hi)
                .order_by(AuditEvent.created_at, AuditEvent.id).limit(20000)).all()
            alert_ids = {r.alert_id for r in rows if r.alert_id}
            alerts = {a.id: a for a in session.scalars(select(Alert).where(Alert.id.in_(alert_ids))
                                                       .options(selectinload(Alert.item).selectinload(Item.findings)))}
            allowed = {i for i, a in alerts.items() if viewer.may_see(a)}
            names = {p.email: p.name for p in viewer.people}
            out = []
            for r in rows:
                if r.alert_id and r.alert_id not in allowed:
                    continue
                d = r.detail or {}
                out.append({"time": r.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                            "who": names.get(r.actor or "", r.actor), "action": ACTION_NAMES.get(r.action, r.action),
                            "alert": r.alert_id or "", "categories": " ".join(alerts[r.alert_id].categories) if r.alert_id else "",
                            "outcome": d.get("outcome") or "", "referred_to": d.get("referred_to") or "",
                            "reference": d.get("reference") or "", "note": d.get("note") or "", "ip": r.ip or ""})
        return who, person, start, end, out

    # plain code run in worker threads (`off_loop`, with the busy-retry helper)
    def page_view(request: Request, form) -> Response:
        who, person, start, end, rows = events(request)
        return app_page(deps, request, who, person, "audit.html", {"rows": rows, "start": start, "end": end})

    def export(request: Request, form) -> Response:
        _who, _person, start, end, rows = events(request)
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow([_cell(r[c]) for c in COLUMNS])
        headers = dict(SECURITY_HEADERS) | {
            "Content-Disposition": f'attachment; filename="nurserywatch-audit-{start}-to-{end}.csv"'}
        return Response(buf.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)

    return [
        Route("/audit", off_loop(page_view), methods=["GET"]),
        Route("/audit.csv", off_loop(export), methods=["GET"]),
    ]
