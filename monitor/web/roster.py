"""The Roster page: children and staff, edited by hand or imported from CSV.

Names never go to the logs; the audit log records counts and the person who
made the change. Edits apply when the pipeline next builds its classifier
(see `monitor/roster.py`).
"""
from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from alerts.ack import audit
from alerts.visibility import READER_ROLES
from monitor.core.models import Recipient
from monitor.core.webmodels import ROSTER_KINDS, RosterPerson
from monitor.roster import RosterError, import_csv
from monitor.web.auth import actor_for, app_page, checked_form, need_role, require
from monitor.web.pages import LinkProblem, WebDeps

MAX_UPLOAD = 512 * 1024


def routes(deps: WebDeps) -> list[Route]:
    def reader(request: Request):
        who = require(deps, request)
        with deps.sessions() as session:
            person = session.get(Recipient, who.recipient_id)
        need_role(person, READER_ROLES)
        return who, person

    async def show(request: Request, flash: str | None = None, error: str | None = None, status: int = 200) -> Response:
        who, person = reader(request)
        with deps.sessions() as session:
            rows = session.scalars(select(RosterPerson).where(RosterPerson.setting_id == deps.env.setting_id)
                                   .order_by(RosterPerson.kind, RosterPerson.room, RosterPerson.surname,
                                             RosterPerson.first_name)).all()
        people = {k: [r for r in rows if r.kind == k] for k in ROSTER_KINDS}
        return app_page(deps, request, who, person, "roster.html",
                        {"people": people, "flash": flash, "error": error}, status)

    async def add(request: Request) -> Response:
        who, person = reader(request)
        form = await checked_form(deps, request, who)
        kind = str(form.get("kind", ""))
        first, surname, room = (" ".join(str(form.get(k, "")).split())[:100] for k in ("first_name", "surname", "room"))
        if kind not in ROSTER_KINDS or not first:
            return await show(request, error="Give at least a first name, and say child or staff.", status=400)
        with deps.sessions.begin() as session:
            session.add(RosterPerson(setting_id=deps.env.setting_id, kind=kind, first_name=first, surname=surname,
                                     room=room, created_at=deps.clock()))
            audit(session, None, deps.env.setting_id, "roster_added", actor_for(request, person), deps.clock(), kind=kind)
        return await show(request, flash=f"Added {first} {surname}.")

    async def remove(request: Request) -> Response:
        who, person = reader(request)
        await checked_form(deps, request, who)
        with deps.sessions.begin() as session:
            row = session.get(RosterPerson, int(request.path_params["person_id"]))
            if row is None or row.setting_id != deps.env.setting_id:
                raise LinkProblem(404, "Not on the roster", "They may have been removed already.")
            name, kind = f"{row.first_name} {row.surname}".strip(), row.kind
            session.delete(row)
            audit(session, None, deps.env.setting_id, "roster_removed", actor_for(request, person), deps.clock(), kind=kind)
        return await show(request, flash=f"Removed {name}.")

    async def upload(request: Request) -> Response:
        who, person = reader(request)
        form = await checked_form(deps, request, who)
        kind = str(form.get("kind", ""))
        file = form.get("file")
        if file is None or isinstance(file, str):
            return await show(request, error="Choose a CSV file to import.", status=400)
        try:
            data = await file.read(MAX_UPLOAD + 1)
        finally:
            await file.close()
        if len(data) > MAX_UPLOAD:
            return await show(request, error="That file is too big for a roster (over 512 KB).", status=400)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("cp1252", errors="replace")  # spreadsheet exports on Windows
        try:
            with deps.sessions.begin() as session:
                report = import_csv(session, deps.env.setting_id, kind, text, deps.clock())
                audit(session, None, deps.env.setting_id, "roster_imported", actor_for(request, person), deps.clock(),
                      kind=kind, added=report.added, removed=report.removed, kept=report.kept)
        except RosterError as err:
            return await show(request, error=f"Nothing was imported: {err}", status=400)
        summary = f"Imported: {report.added} added, {report.kept} kept, {report.removed} removed (leavers)."
        if report.skipped:
            summary += " Skipped " + "; ".join(report.skipped[:5]) + ("…" if len(report.skipped) > 5 else "") + "."
        return await show(request, flash=summary)

    return [
        Route("/roster", show, methods=["GET"]),
        Route("/roster", add, methods=["POST"]),
        Route("/roster/import", upload, methods=["POST"]),
        Route("/roster/{person_id:int}/delete", remove, methods=["POST"]),
    ]
