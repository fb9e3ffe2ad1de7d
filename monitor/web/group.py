"""The web pages of a group: each request served as its setting's, and the group view.

A group's deployment serves every setting from one address. Each setting gets
the same pages as a single setting (`create_app` builds them with that
setting's `WebDeps`), and `SettingDispatch` sends each request to one of them:
an email link (`/a/<token>`, `/h/<token>`) to the setting of the alert it
names, a signed-in request to the setting of the session's person, anything
else to the first setting. So a setting's pages only ever show that setting.

A person who is one of the people of several settings (a group role, or
listed in several setting files) signs in once and starts on `/group`: for
each of their settings, separated, the open alerts they may see there
(`alerts.visibility.viewers_for`) and its accounts needing attention. Opening
one moves their session to that setting (`POST /group/open`), as if they had
signed in there.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from alerts.links import LinkError
from alerts.visibility import viewers_for
from monitor.core.models import Account, AccountState, Alert, AlertState, Item, Recipient
from monitor.core.webmodels import WebSession
from monitor.web.auth import SESSION_COOKIE, _hash, app_page, check_csrf, require
from monitor.web.inbox import age
from monitor.web.pages import LinkProblem, WebDeps, off_loop

LINK_ACTIONS = {"a": "ack", "h": "hide"}  # first path segment of an email link -> its signed action


class SettingDispatch:
    """ASGI: serve each request with the app of the setting it belongs to."""

    def __init__(self, deps: WebDeps, apps: dict[int, ASGIApp], first: int):
        self.deps, self.apps, self.first = deps, apps, first

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        setting_id = await run_in_threadpool(self.setting_of, scope) if scope["type"] == "http" else None
        await self.apps.get(setting_id, self.apps[self.first])(scope, receive, send)

    def setting_of(self, scope: Scope) -> int | None:
        """The setting of the alert an email link names, or of the signed-in person; None: the first."""
        parts = scope["path"].split("/")
        if len(parts) > 2 and parts[1] in LINK_ACTIONS:
            try:
                alert_id = self.deps.env.signer.verify(LINK_ACTIONS[parts[1]], parts[2]).alert_id
            except LinkError:
                return None  # the first setting's page explains what is wrong with the link
            with self.deps.sessions() as session:
                return session.scalar(select(Alert.setting_id).where(Alert.id == alert_id))
        token = HTTPConnection(scope).cookies.get(SESSION_COOKIE)
        if not token:
            return None
        with self.deps.sessions() as session:
            return session.scalar(select(WebSession.setting_id).where(WebSession.token_hash == _hash(token)))


def group_view(deps: WebDeps, session, person: Recipient) -> list[dict]:
    """One section per setting of the person's: its open and acknowledged alerts they may see, and accounts to fix."""
    envs = [deps.envs[sid] for sid in sorted(deps.envs)]
    now = deps.clock()
    sections = []
    for viewer in viewers_for(session, envs, person.email):
        env = viewer.env
        alerts = session.scalars(
            select(Alert).where(Alert.setting_id == env.setting_id,
                                Alert.state.in_((AlertState.open.value, AlertState.acknowledged.value)))
            .options(selectinload(Alert.item).selectinload(Item.findings), selectinload(Alert.acknowledged_by))
            .order_by(Alert.created_at.desc()).limit(200)).all()
        rows = [{"alert": a, "age": age(now, a.created_at),
                 "has_it": a.acknowledged_by.name if a.acknowledged_by else None}
                for a in alerts if viewer.may_see(a)]
        attention = session.scalars(select(Account).where(
            Account.setting_id == env.setting_id,
            Account.state.in_((AccountState.needs_reconnect.value, AccountState.misconfigured.value)))
            .order_by(Account.id)).all()
        sections.append({"setting_id": env.setting_id, "setting_name": env.setting_name, "rows": rows,
                         "attention": [{"name": a.name, "platform": a.platform} for a in attention],
                         "here": env.setting_id == person.setting_id})
    return sections


def routes(deps: WebDeps) -> list[Route]:
    # plain code run in worker threads (`off_loop`, with the busy-retry helper), as every page
    def group_page(request: Request, form) -> Response:
        who = require(deps, request)
        with deps.sessions() as session:
            person = session.get(Recipient, who.recipient_id)
            return app_page(deps, request, who, person, "group.html", {"sections": group_view(deps, session, person)})

    def open_in_setting(request: Request, form) -> Response:
        """Move the session to the person's row in another setting, then go to `next` there."""
        who = require(deps, request)
        check_csrf(deps, request, who, form)
        target = int(str(form.get("setting", "0")) or 0)
        alert_id = str(form.get("alert", ""))
        with deps.sessions.begin() as session:
            me = session.get(Recipient, who.recipient_id)
            there = session.scalar(select(Recipient).where(
                Recipient.setting_id == target, Recipient.email == me.email, Recipient.active.is_(True)))
            if there is None or target not in deps.setting_ids:
                raise LinkProblem(404, "Not one of your settings", "Go back to All settings.")
            row = session.get(WebSession, who.session_id)
            row.setting_id, row.recipient_id = target, there.id
        return RedirectResponse(f"/alerts/{int(alert_id)}" if alert_id.isdigit() else "/alerts", status_code=303)

    return [Route("/group", off_loop(group_page), methods=["GET"]),
            Route("/group/open", off_loop(open_in_setting), methods=["POST"])]
