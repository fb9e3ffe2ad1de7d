"""The acknowledgement pages (Starlette, served by uvicorn).

Mail scanners open every link in an email, so a GET only shows the alert and
a button; only the POST from that button acknowledges. Tokens are checked
before anything is read: a tampered or expired link gets a clear page and a
4xx, and changes nothing.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker

from alerts.ack import Actor, acknowledge, lock_alert
from alerts.emails import PLATFORM_NAMES, highlight
from alerts.links import LinkError
from alerts.policy import CATEGORY_TITLES, POLICY
from alerts.service import AlertEnv, alert_reasons
from monitor.models import Alert, Recipient

log = logging.getLogger(__name__)

templates = Jinja2Templates(directory=str(__import__("pathlib").Path(__file__).with_name("templates")))
templates.env.globals.update(category_titles=CATEGORY_TITLES, policy=POLICY, platform_names=PLATFORM_NAMES)

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
}


@dataclass
class WebDeps:
    sessions: sessionmaker[Session]
    env: AlertEnv
    clock: Callable[[], datetime]


class LinkProblem(Exception):
    def __init__(self, status: int, title: str, message: str):
        self.status, self.title, self.message = status, title, message


def _page(request: Request, name: str, ctx: dict, status: int = 200) -> Response:
    resp = templates.TemplateResponse(request, name, ctx, status_code=status)
    resp.headers.update(SECURITY_HEADERS)
    return resp


def _resolve(deps: WebDeps, session: Session, token: str, *, lock: bool) -> tuple[Alert, Recipient]:
    try:
        claims = deps.env.signer.verify("ack", token)
    except LinkError as err:
        if err.reason == "expired":
            raise LinkProblem(410, "This link has expired",
                              "Links in alert emails work for a limited time. Open the newest email about this alert, or ask the manager.")
        raise LinkProblem(400, "This link is not valid",
                          "The link may have been cut short or changed. Open it again from the email, copying the whole link.")
    alert = lock_alert(session, claims.alert_id) if lock else session.get(Alert, claims.alert_id)
    recipient = session.get(Recipient, claims.recipient_id)
    if alert is None or recipient is None or alert.setting_id != deps.env.setting_id or recipient.setting_id != alert.setting_id:
        raise LinkProblem(404, "Alert not found", "This alert no longer exists here.")
    return alert, recipient


def _alert_ctx(deps: WebDeps, alert: Alert, recipient: Recipient, token: str) -> dict:
    item = alert.item
    evidence = [e for f in item.findings if f.alerting for e in f.evidence]
    tz = deps.env.timezone
    return {
        "alert": alert,
        "item": item,
        "recipient": recipient,
        "token": token,
        "setting_name": deps.env.setting_name,
        "segments": highlight(item.text, evidence),
        "reasons": alert_reasons(item),
        "posted_local": item.created_at.astimezone(tz).strftime("%a %d %b %Y, %H:%M"),
        "acked_local": alert.acknowledged_at.astimezone(tz).strftime("%H:%M on %a %d %b") if alert.acknowledged_at else None,
        "acked_by": alert.acknowledged_by.name if alert.acknowledged_by else None,
    }


def create_app(deps: WebDeps) -> Starlette:
    async def alert_page(request: Request) -> Response:
        token = request.path_params["token"]
        with deps.sessions() as session:
            try:
                alert, recipient = _resolve(deps, session, token, lock=False)
            except LinkProblem as p:
                return _page(request, "problem.html", {"title": p.title, "message": p.message}, p.status)
            return _page(request, "alert.html", _alert_ctx(deps, alert, recipient, token))

    async def alert_ack(request: Request) -> Response:
        token = request.path_params["token"]
        form = await request.form()
        note = str(form.get("note", ""))
        actor_ip = request.client.host if request.client else None
        with deps.sessions.begin() as session:
            try:
                alert, recipient = _resolve(deps, session, token, lock=True)
            except LinkProblem as p:
                return _page(request, "problem.html", {"title": p.title, "message": p.message}, p.status)
            actor = Actor(recipient, actor_ip, request.headers.get("user-agent"))
            first = acknowledge(session, deps.env, alert, actor, note, deps.clock())
            session.flush()
            ctx = _alert_ctx(deps, alert, recipient, token) | {"just_acked": first}
            log.info("alert %s: acknowledge by recipient %s (first=%s)", alert.id, recipient.id, first)
            return _page(request, "acknowledged.html", ctx)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def home(request: Request) -> Response:
        return _page(request, "home.html", {"setting_name": deps.env.setting_name})

    return Starlette(
        routes=[
            Route("/", home),
            Route("/healthz", health),
            Route("/a/{token}", alert_page, methods=["GET"]),
            Route("/a/{token}", alert_ack, methods=["POST"]),
        ]
    )
