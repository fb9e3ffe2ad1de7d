"""The acknowledgement pages (Starlette, served by uvicorn).

Mail scanners open every link in an email, so a GET only shows: the alert and
its button, the printable record of concern, the hide confirmation. Only a POST
from a button changes anything (acknowledge, add a note, hide the comment),
and every POST is an audit event with who, when, IP and user agent. Tokens are
checked before anything is read: a tampered, expired or wrong link gets a clear
page and a 4xx, and changes nothing.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Awaitable, Callable, Mapping

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from alerts.ack import Actor, acknowledge, add_note, audit, lock_alert
from alerts.emails import highlight, safe_url
from alerts.links import LinkError
from alerts.policy import CATEGORY_TITLES, POLICY
from alerts.service import ROLE_NAMES, AlertEnv, alert_reasons, audience
from alerts.visibility import may_see
from connectors.base import Connector, ConnectorError, HideRefused
from monitor.core.platforms import PLATFORM_NAMES
from monitor.core.db import with_busy_retries
from monitor.core.models import Alert, AuditEvent, Item, Recipient
from monitor.core.platforms import off_page
from monitor.logs import withhold
from monitor.health import Health
from monitor.web.health import health_routes
from monitor.web import webhooks

log = logging.getLogger(__name__)

templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
templates.env.globals.update(category_titles=CATEGORY_TITLES, policy=POLICY, platform_names=PLATFORM_NAMES)

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors' twin, for browsers that predate CSP
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
}

HideFn = Callable[[int, str], Awaitable[None]]  # (account id, item external id)


def connector_hider(connectors: Mapping[int, Connector]) -> HideFn:
    """Hide through the account's own connector (the runtime's `connectors`)."""

    async def hide(account_id: int, external_id: str) -> None:
        connector = connectors.get(account_id)
        if connector is None:
            raise HideRefused("this account is no longer watched")
        await connector.hide(external_id)

    return hide


@dataclass
class WebDeps:
    sessions: sessionmaker[Session]
    env: AlertEnv
    clock: Callable[[], datetime]
    hide: HideFn | None = None  # None: the page never offers hiding
    send_test_alert: Callable[[int, str], object] | None = None  # (setting id, email) -> a [TEST] alert by the real route; None: no button
    health: Health | None = None  # None: /readyz checks the database and the outbox only
    meta_webhook: webhooks.MetaWebhook | None = None  # None: /webhooks/meta answers 404
    hide_unavailable: Callable[[int], str | None] | None = None  # account id -> why it cannot hide, or None
    envs: dict[int, AlertEnv] = field(default_factory=dict)  # a group: every setting's (monitor.web.group)

    @property
    def setting_ids(self) -> set[int]:
        """The settings these pages serve: the group's, or just `env`'s."""
        return set(self.envs) or {self.env.setting_id}

    def for_setting(self, setting_id: int) -> "WebDeps":
        """The same pages for another setting of the group."""
        return replace(self, env=self.envs[setting_id])


class LinkProblem(Exception):
    """A request the pages cannot serve: shown as a clear page with a 4xx (or 502),
    by the app's exception handler, after any open transaction rolled back."""

    def __init__(self, status: int, title: str, message: str):
        self.status, self.title, self.message = status, title, message


def page(request: Request, name: str, ctx: dict, status: int = 200) -> Response:
    resp = templates.TemplateResponse(request, name, ctx, status_code=status)
    resp.headers.update(SECURITY_HEADERS)
    return resp


_page = page


def problem_page(request: Request, p: LinkProblem) -> Response:
    return page(request, "problem.html", {"title": p.title, "message": p.message}, p.status)


def _resolve(deps: WebDeps, session: Session, action: str, token: str, *, lock: bool) -> tuple[Alert, Recipient]:
    try:
        claims = deps.env.signer.verify(action, token)
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
    if not may_see(session, deps.env, recipient, alert):
        raise LinkProblem(403, "This link is not for this alert",
                          "This alert was not sent to the person this link belongs to. Ask the manager or the DSL.")
    return alert, recipient


def _actor(request: Request, recipient: Recipient) -> Actor:
    return Actor(recipient, request.client.host if request.client else None, request.headers.get("user-agent"))


def _local(deps: WebDeps, when: datetime | None, fmt: str = "%H:%M on %a %d %b %Y") -> str | None:
    return when.astimezone(deps.env.timezone).strftime(fmt) if when else None


def _hide_unavailable(deps: WebDeps, item: Item) -> str | None:
    return deps.hide_unavailable(item.account_id) if deps.hide_unavailable else None


def _alert_ctx(deps: WebDeps, session: Session, alert: Alert, recipient: Recipient, token: str) -> dict:
    item: Item = alert.item
    evidence = [e for f in item.findings if f.alerting for e in f.evidence]
    notes = session.scalars(
        select(AuditEvent).where(AuditEvent.alert_id == alert.id, AuditEvent.action.in_(("acknowledge", "note")))
        .order_by(AuditEvent.id)
    ).all()
    return {
        "alert": alert,
        "item": item,
        "recipient": recipient,
        "roles": " and ".join(ROLE_NAMES.get(r, r) for r in recipient.roles),
        "token": token,
        "hide_token": deps.env.signer.token("hide", alert.id, recipient.id),
        "can_hide": bool(deps.hide and item.can_hide and not item.is_hidden and not _hide_unavailable(deps, item)),
        "hide_unavailable": _hide_unavailable(deps, item) if item.can_hide and not item.is_hidden else None,
        "permalink": safe_url(item.permalink),
        "off_page": off_page(item.platform, item.kind),
        "setting_name": deps.env.setting_name,
        "segments": highlight(item.text, evidence),
        "reasons": alert_reasons(item),
        "posted_local": _local(deps, item.created_at, "%a %d %b %Y, %H:%M"),
        "raised_local": _local(deps, alert.created_at),
        "now_local": _local(deps, deps.clock()),
        "acked_local": _local(deps, alert.acknowledged_at),
        "acked_by": alert.acknowledged_by.name if alert.acknowledged_by else None,
        "notes": [{"by": n.actor, "at": _local(deps, n.created_at), "text": n.detail.get("note")}
                  for n in notes if n.detail.get("note")],
        "people": {r.email: r.name for r in audience(session, deps.env, alert)},
    }


HIDE_CLAIM_TIMEOUT = timedelta(minutes=5)  # a hide claimed by a process that died mid-call may be pressed again
BUSY_BUDGET = 45.0  # seconds a request waits out a locked database before it gives up


async def in_thread(fn, *args):
    """Database work off the event loop (Starlette's thread pool, not the pipeline's),
    retried with backoff while the database is busy: a lock shorter than the budget
    delays an acknowledgement, it never loses it."""
    return await run_in_threadpool(with_busy_retries, fn, *args, budget=BUSY_BUDGET)


def withhold_request(request: Request, form) -> None:
    """Nothing the person sent (a note, their address, their browser) reaches the logs."""
    withhold(*(form.values() if form else ()), request.client.host if request.client else None,
             request.headers.get("user-agent"))


def off_loop(handler: Callable[[Request, object], Response]) -> Callable[[Request], Awaitable[Response]]:
    """A page handler written as plain code, run by `in_thread` with its form read first."""

    async def endpoint(request: Request) -> Response:
        form = await request.form() if request.method == "POST" else None
        withhold_request(request, form)
        return await in_thread(handler, request, form)

    endpoint.__name__ = handler.__name__
    return endpoint


def routes(deps: WebDeps) -> list[Route]:
    """The pages behind the email links (`create_app` in monitor/web/app.py mounts them)."""

    @off_loop
    def alert_page(request: Request, form) -> Response:
        token = request.path_params["token"]
        with deps.sessions() as session:
            alert, recipient = _resolve(deps, session, "ack", token, lock=False)
            return _page(request, "alert.html", _alert_ctx(deps, session, alert, recipient, token))

    @off_loop
    def alert_ack(request: Request, form) -> Response:
        token = request.path_params["token"]
        with deps.sessions.begin() as session:
            alert, recipient = _resolve(deps, session, "ack", token, lock=True)
            first = acknowledge(session, deps.env, alert, _actor(request, recipient), str(form.get("note", "")), deps.clock())
            session.flush()
            log.info("alert %s: acknowledge by recipient %s (first=%s)", alert.id, recipient.id, first)
            ctx = _alert_ctx(deps, session, alert, recipient, token) | {"just_acked": first}
            return _page(request, "acknowledged.html", ctx)

    @off_loop
    def alert_note(request: Request, form) -> Response:
        token = request.path_params["token"]
        with deps.sessions.begin() as session:
            alert, recipient = _resolve(deps, session, "ack", token, lock=True)
            if not add_note(session, deps.env, alert, _actor(request, recipient), str(form.get("note", "")), deps.clock()):
                raise LinkProblem(400, "The note was empty", "Go back and write what was done.")
            session.flush()
            ctx = _alert_ctx(deps, session, alert, recipient, token) | {"flash": "Your note has been added."}
            return _page(request, "alert.html", ctx)

    @off_loop
    def record_page(request: Request, form) -> Response:
        token = request.path_params["token"]
        with deps.sessions() as session:
            alert, recipient = _resolve(deps, session, "ack", token, lock=False)
            if "safeguarding" not in alert.categories:
                raise LinkProblem(404, "No record of concern for this alert",
                                  "A record of concern is for safeguarding alerts only.")
            return _page(request, "record.html", _alert_ctx(deps, session, alert, recipient, token))

    @off_loop
    def hide_page(request: Request, form) -> Response:
        token = request.path_params["token"]
        with deps.sessions() as session:
            alert, recipient = _resolve(deps, session, "hide", token, lock=False)
            ctx = _alert_ctx(deps, session, alert, recipient, deps.env.signer.token("ack", alert.id, recipient.id))
            return _page(request, "hide.html", ctx | {"hide_token": token})

    def _hide_check(request: Request, form) -> tuple[int, str, int, Recipient]:
        """Check the press, then claim the hide (one conditional UPDATE): of presses at
        the same moment, one calls the platform and the others are told it is under way."""
        token = request.path_params["token"]
        with deps.sessions.begin() as session:
            alert, recipient = _resolve(deps, session, "hide", token, lock=False)
            item = alert.item
            if item.is_hidden:
                raise LinkProblem(409, "Already hidden", "This comment is already hidden.")
            if not (deps.hide and item.can_hide):
                raise LinkProblem(409, "This comment cannot be hidden from here",
                                  "The platform does not let nurserywatch hide it. Use the link to the platform instead.")
            if form.get("confirm") != "yes":
                raise LinkProblem(400, "Please confirm",
                                  "Tick the box to confirm you want the comment hidden, then press the button again.")
            now = deps.clock()
            claimed = session.execute(
                update(Item).where(Item.id == item.id, Item.is_hidden.is_(False),
                                   or_(Item.hide_claimed_at.is_(None), Item.hide_claimed_at < now - HIDE_CLAIM_TIMEOUT))
                .values(hide_claimed_at=now).execution_options(synchronize_session=False)
            ).rowcount
            if not claimed:
                raise LinkProblem(409, "Being hidden now",
                                  "Someone asked the platform to hide this comment a moment ago. Open the alert again "
                                  "in a minute to see that it is hidden.")
            return item.account_id, item.external_id, alert.id, recipient

    def _hide_failed(alert_id: int, actor: Actor, err: ConnectorError) -> None:
        refused = isinstance(err, HideRefused)
        with deps.sessions.begin() as session:
            alert = session.get(Alert, alert_id)
            alert.item.hide_claimed_at = None  # the next press may try again
            audit(session, alert, deps.env.setting_id,
                  "hide_refused" if refused else "hide_failed", actor, deps.clock(), error=err.detail)
        log.warning("alert %s: hiding failed (%s)", alert_id, type(err).__name__)
        if refused:
            raise LinkProblem(409, "The platform refused to hide it",
                              "Hide it on the platform itself, using the link on the alert page.")
        raise LinkProblem(502, "Could not reach the platform",
                          "Nothing was changed. Try again in a few minutes.")

    def _hidden(request: Request, alert_id: int, recipient: Recipient, actor: Actor) -> Response:
        with deps.sessions.begin() as session:
            alert = session.get(Alert, alert_id)
            alert.item.is_hidden, alert.item.hide_claimed_at = True, None
            audit(session, alert, deps.env.setting_id, "hide", actor, deps.clock())
            session.flush()
            log.info("alert %s: comment hidden by recipient %s", alert_id, recipient.id)
            ack_token = deps.env.signer.token("ack", alert.id, recipient.id)
            ctx = _alert_ctx(deps, session, alert, recipient, ack_token) | {"flash": "The comment is now hidden on the platform."}
            return _page(request, "alert.html", ctx)

    async def hide_post(request: Request) -> Response:
        form = await request.form()
        withhold_request(request, form)
        account_id, external_id, alert_id, recipient = await in_thread(_hide_check, request, form)
        actor = _actor(request, recipient)
        try:
            await deps.hide(account_id, external_id)
        except ConnectorError as err:
            await in_thread(_hide_failed, alert_id, actor, err)
        return await in_thread(_hidden, request, alert_id, recipient, actor)

    return [
        Route("/a/{token}", alert_page, methods=["GET"]),
        Route("/a/{token}", alert_ack, methods=["POST"]),
        Route("/a/{token}/note", alert_note, methods=["POST"]),
        Route("/a/{token}/record", record_page, methods=["GET"]),
        Route("/h/{token}", hide_page, methods=["GET"]),
        Route("/h/{token}", hide_post, methods=["POST"]),
        *health_routes(deps.health or Health(deps.sessions, deps.clock)),
        *webhooks.routes(deps),
    ]
