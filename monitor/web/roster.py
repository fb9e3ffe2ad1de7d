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
from monitor.web.auth import actor_for, app_page, check_csrf, need_role, require
from monitor.web.pages import LinkProblem, WebDeps, off_loop

MAX_UPLOAD = 512 * 1024


def routes(deps: WebDeps) -> list[Route]:
    # plain code run in worker threads (`off_loop`, with the busy-retry helper)
    def reader(request: Request):
        who = require(deps, request)
        with deps.sessions() as session:
            person = session.get(Recipient, who.recipient_id)
        need_role(person, READER_ROLES)
        return who, person

    def show(request: Request, form=None, flash: str | None = None, error: str | None = None,
             status: int = 200) -> Response:
        who, person = reader(request)
        with deps.sessions() as session:
            rows = session.scalars(select(RosterPerson).where(RosterPerson.setting_id == deps.env.setting_id)
                                   .order_by(RosterPerson.kind, RosterPerson.room, RosterPerson.surname,
                                             RosterPerson.first_name)).all()
        people = {k: [r for r in rows if r.kind == k] for k in ROSTER_KINDS}
        return app_page(deps, request, who, person, "roster.html",
                        {"people": people, "flash": flash, "error": error}, status)

    def add(request: Request, form) -> Response:
        who, person = reader(request)
        check_csrf(deps, request, who, form)
        kind = str(form.get("kind", ""))
        first, surname, room = (" ".join(str(form.get(k, "")).split())[:100] for k in ("first_name", "surname", "room"))
        if kind not in ROSTER_KINDS or not first:
            return show(request, error="Give at least a first name, and say child or staff.", status=400)
        with deps.sessions.begin() as session:
            session.add(RosterPerson(setting_id=deps.env.setting_id, kind=kind, first_name=first, surname=surname,
                                     room=room, created_at=deps.clock()))
            audit(session, None, deps.env.setting_id, "roster_added", actor_for(request, person), deps.clock(), kind=kind)
        return show(request, flash=f"Added {first} {surname}.")

    def remove(request: Request, form) -> Response:
        who, person = reader(request)
        check_csrf(deps, request, who, form)
        with deps.sessions.begin() as session:
            row = session.get(RosterPerson, int(request.path_params["person_id"]))
            if row is None or row.setting_id != deps.env.setting_id:
                raise LinkProblem(404, "Not on the roster", "They may have been removed already.")
            name, kind = f"{row.first_name} {row.surname}".strip(), row.kind
            session.delete(row)
            audit(session, None, deps.env.setting_id, "roster_removed", actor_for(request, person), deps.clock(), kind=kind)
        return show(request, flash=f"Removed {name}.")

    def upload(request: Request, form) -> Response:
        who, person = reader(request)
        check_csrf(deps, request, who, form)
        kind = str(form.get("kind", ""))
        file = form.get("file")
        if file is None or isinstance(file, str):
            return show(request, error="Choose a CSV file to import.", status=400)
        try:
            data = file.file.read(MAX_UPLOAD + 1)  # this is a worker thread: the spooled file directly
        finally:
            file.file.close()
        if len(data) > MAX_UPLOAD:
            return show(request, error="That file is too big for a roster (over 512 KB).", status=400)
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
            return show(request, error=f"Nothing was imported: {err}", status=400)
        summary = f"Imported: {report.added} added, {report.kept} kept, {report.removed} removed (leavers)."
        if report.skipped:
            summary += " Skipped " + "; ".join(report.skipped[:5]) + ("…" if len(report.skipped) > 5 else "") + "."
        return show(request, flash=summary)

    return [
        Route("/roster", off_loop(show), methods=["GET"]),
        Route("/roster", off_loop(add), methods=["POST"]),
        Route("/roster/import", off_loop(upload), methods=["POST"]),
        Route("/roster/{person_id:int}/delete", off_loop(remove), methods=["POST"]),
    ]
