"""The inbox (`/alerts`) and the alert page with its thread, history and actions.

Every alert shown passes `alerts.visibility.Viewer.may_see`; one a person may
not see answers 404, as if it did not exist. Actions are POSTs with the
session's CSRF token: acknowledge, add a note, close with an outcome (hiding
goes through the signed hide page, which asks for confirmation).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from alerts.ack import acknowledge, add_note, lock_alert
from alerts.outcomes import OUTCOME_NAMES, REFERRED_NAMES, Closing, OutcomeError, close_alert
from alerts.visibility import Viewer
from monitor.core.models import Alert, AuditEvent, Item, Recipient
from monitor.core.types import CATEGORIES
from monitor.core.webmodels import AlertOutcome
from monitor.web.auth import SESSION_COOKIE, SignedIn, actor_for, app_page, check_csrf, require, set_cookie, start_session
from monitor.web.pages import LinkProblem, WebDeps, _alert_ctx, _resolve, off_loop

STATES = {"active": ("open", "acknowledged"), "open": ("open",), "acknowledged": ("acknowledged",),
          "closed": ("closed",), "all": ("open", "acknowledged", "closed")}
VIEW_LOG_EVERY = timedelta(hours=1)
ACTION_NAMES = {"acknowledge": "acknowledged", "acknowledge_again": "acknowledged again", "note": "added a note",
                "hide": "hid the comment", "hide_refused": "tried to hide (refused)", "hide_failed": "tried to hide (failed)",
                "close": "closed", "view": "opened", "escalate": "escalated",
                "reopened": "raised again (an edit on the platform added a concern)"}


def age(now: datetime, then: datetime) -> str:
    minutes = int((now - then).total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 0)} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} days"


def visible_alert(deps: WebDeps, session: Session, who: SignedIn, alert_id: int) -> tuple[Alert, Recipient, Viewer]:
    person = session.get(Recipient, who.recipient_id)
    viewer = Viewer(session, deps.env, person)
    alert = session.get(Alert, alert_id)
    if alert is None or not viewer.may_see(alert):
        raise LinkProblem(404, "Alert not found", "There is no alert here that you can see.")
    return alert, person, viewer


def thread(session: Session, viewer: Viewer, item: Item) -> tuple[Item | None, list[dict]]:
    """The post the comment answers and the replies around it (those the viewer may see)."""
    if not item.parent_external_id:
        return None, []
    parent = session.scalar(select(Item).where(Item.account_id == item.account_id,
                                               Item.external_id == item.parent_external_id))
    siblings = session.scalars(select(Item).where(Item.account_id == item.account_id,
                                                  Item.parent_external_id == item.parent_external_id)
                               .order_by(Item.created_at, Item.id).limit(30)).all()
    alerts = {a.item_id: a for a in session.scalars(select(Alert).where(Alert.item_id.in_([s.id for s in siblings])))}
    out = []
    for s in siblings:
        other = alerts.get(s.id)
        hidden = other is not None and s.id != item.id and not viewer.may_see(other)
        out.append({"item": s, "this": s.id == item.id, "withheld": hidden})
    return parent, out


def history(session: Session, alert_id: int, people: dict[str, str], deps: WebDeps) -> list[dict]:
    rows = session.scalars(select(AuditEvent).where(AuditEvent.alert_id == alert_id).order_by(AuditEvent.id)).all()
    return [{"at": r.created_at.astimezone(deps.env.timezone).strftime("%H:%M %a %d %b"),
             "who": people.get(r.actor or "", r.actor), "what": ACTION_NAMES.get(r.action, r.action),
             "detail": r.detail or {}} for r in rows]


def routes(deps: WebDeps) -> list[Route]:
    # plain code run in worker threads (`off_loop`, with the busy-retry helper): a locked
    # database delays these pages, never /healthz or another person's page
    def inbox(request: Request, form) -> Response:
        who = require(deps, request)
        state = request.query_params.get("state", "active")
        category = request.query_params.get("category", "")
        states = STATES.get(state, STATES["active"])
        now = deps.clock()
        with deps.sessions() as session:
            person = session.get(Recipient, who.recipient_id)
            viewer = Viewer(session, deps.env, person)
            alerts = session.scalars(
                select(Alert).where(Alert.setting_id == deps.env.setting_id, Alert.state.in_(states))
                .options(selectinload(Alert.item).selectinload(Item.findings), selectinload(Alert.acknowledged_by))
                .order_by(Alert.created_at.desc()).limit(500)
            ).all()
            rows = [a for a in alerts if viewer.may_see(a) and (not category or category in a.categories)]
            outcomes = {o.alert_id: o for o in session.scalars(
                select(AlertOutcome).where(AlertOutcome.alert_id.in_([a.id for a in rows])))}
            listed = [{"alert": a, "age": age(now, a.created_at), "outcome": outcomes.get(a.id),
                       "has_it": a.acknowledged_by.name if a.acknowledged_by else None} for a in rows]
            return app_page(deps, request, who, person, "inbox.html", {
                "rows": listed, "state": state, "category": category, "categories": CATEGORIES,
                "outcome_names": OUTCOME_NAMES, "states": list(STATES)})

    def alert_page(request: Request, form=None, flash: str | None = None, error: str | None = None,
                   status: int = 200) -> Response:
        alert_id = int(request.path_params["alert_id"])
        who = require(deps, request, alert_id=alert_id)
        with deps.sessions() as session:
            alert, person, viewer = visible_alert(deps, session, who, alert_id)
            _log_view(session, alert, person, request)
            ctx = _alert_ctx(deps, session, alert, person, deps.env.signer.token("ack", alert.id, person.id))
            parent, replies = thread(session, viewer, alert.item)
            outcome = session.scalar(select(AlertOutcome).where(AlertOutcome.alert_id == alert.id))
            ctx |= {"parent": parent, "replies": replies, "outcome": outcome, "flash": flash, "error": error,
                    "history": history(session, alert.id, {p.email: p.name for p in viewer.people}, deps),
                    "outcome_names": OUTCOME_NAMES, "referred_names": REFERRED_NAMES,
                    "closed_by": session.get(Recipient, outcome.closed_by_id).name if outcome else None}
            session.commit()
            return app_page(deps, request, who, person, "alert_full.html", ctx, status)

    def _log_view(session: Session, alert: Alert, person: Recipient, request: Request) -> None:
        """Who saw it, for the record; at most once an hour per person."""
        from alerts.ack import audit

        now = deps.clock()
        recent = session.scalar(select(AuditEvent.id).where(
            AuditEvent.alert_id == alert.id, AuditEvent.action == "view", AuditEvent.actor == person.email,
            AuditEvent.created_at > now - VIEW_LOG_EVERY).limit(1))
        if recent is None:
            audit(session, alert, deps.env.setting_id, "view", actor_for(request, person), now)

    def act(request: Request, form) -> Response:
        alert_id = int(request.path_params["alert_id"])
        action = request.path_params["action"]
        who = require(deps, request, alert_id=alert_id)
        check_csrf(deps, request, who, form)
        flash = None
        try:
            with deps.sessions.begin() as session:
                alert, person, _viewer = visible_alert(deps, session, who, alert_id)
                alert = lock_alert(session, alert_id)
                actor = actor_for(request, person)
                if action == "ack":
                    first = acknowledge(session, deps.env, alert, actor, str(form.get("note", "")), deps.clock())
                    flash = "You have this alert." if first else "Someone already had it; your acknowledgement is recorded."
                elif action == "note":
                    if not add_note(session, deps.env, alert, actor, str(form.get("note", "")), deps.clock()):
                        raise OutcomeError("The note was empty.")
                    flash = "Your note has been added."
                elif action == "close":
                    closing = Closing(outcome=str(form.get("outcome", "")), referred_to=str(form.get("referred_to", "")) or None,
                                      reference=str(form.get("reference", "")), wrong_labels=tuple(form.getlist("wrong")),
                                      note=str(form.get("note", "")))
                    close_alert(session, deps.env, alert, actor, closing, deps.clock())
                    flash = "The alert is closed." + (" Thank you: the comment is kept as an example of what is not a concern."
                                                      if closing.outcome == "not_a_concern" else "")
                else:
                    raise LinkProblem(404, "Unknown action", "Go back to the alert.")
        except OutcomeError as err:
            return alert_page(request, error=str(err), status=400)
        return alert_page(request, flash=flash)

    def record(request: Request, form) -> Response:
        alert_id = int(request.path_params["alert_id"])
        who = require(deps, request, alert_id=alert_id)
        with deps.sessions() as session:
            alert, person, _viewer = visible_alert(deps, session, who, alert_id)
            ctx = _alert_ctx(deps, session, alert, person, "")
            outcome = session.scalar(select(AlertOutcome).where(AlertOutcome.alert_id == alert.id))
            return app_page(deps, request, who, person, "record.html", ctx | {
                "back_url": f"/alerts/{alert.id}", "outcome": outcome, "outcome_names": OUTCOME_NAMES,
                "outcome_local": outcome.closed_at.astimezone(deps.env.timezone).strftime("%d %b %Y %H:%M") if outcome else None,
                "referred_names": REFERRED_NAMES})

    def open_from_email(request: Request, form) -> Response:
        """The alert email's link, opened in the app: a session good for this alert only."""
        token = request.path_params["token"]
        with deps.sessions.begin() as session:
            alert, recipient = _resolve(deps, session, "ack", token, lock=False)
            cookie = start_session(deps, session, recipient.id, alert.id)
            target = f"/alerts/{alert.id}"
        resp = RedirectResponse(target, status_code=303)
        set_cookie(deps, resp, SESSION_COOKIE, cookie)
        return resp

    return [
        Route("/alerts", off_loop(inbox), methods=["GET"]),
        Route("/alerts/{alert_id:int}", off_loop(alert_page), methods=["GET"]),
        Route("/alerts/{alert_id:int}/record", off_loop(record), methods=["GET"]),
        Route("/alerts/{alert_id:int}/{action:str}", off_loop(act), methods=["POST"]),
        Route("/a/{token}/open", off_loop(open_from_email), methods=["POST"]),
    ]
