"""The Starlette app: the email-link pages and the manager's web app, mounted together.

Each surface is a sibling module with a `routes(deps)` list: `pages` (the
signed alert links), `auth` (sign-in, sessions), `inbox` (alerts and their
outcomes), `teaching` (phrase rules, missed comments), `roster`, `admin`,
`audit`.
"""
from __future__ import annotations

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.web import admin, audit, auth, group, inbox, pages, roster, teaching
from monitor.web.pages import SECURITY_HEADERS, LinkProblem, WebDeps, problem_page


class SecurityHeaders:
    """Every answer carries SECURITY_HEADERS, including those no page builds
    (404, 405, /healthz, an error): a header a page set itself is kept."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(deps: WebDeps) -> Starlette | group.SettingDispatch:
    """The pages; a group's are one app per setting behind `group.SettingDispatch`."""
    if len(deps.envs) > 1:
        apps = {setting_id: setting_app(deps.for_setting(setting_id)) for setting_id in deps.envs}
        return group.SettingDispatch(deps, apps, first=deps.env.setting_id)
    return setting_app(deps)


def setting_app(deps: WebDeps) -> Starlette:
    async def link_problem(request: Request, exc: Exception) -> Response:
        return problem_page(request, exc)

    return Starlette(
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={LinkProblem: link_problem, auth.SignInNeeded: auth.sign_in_redirect},
        routes=[
            *pages.routes(deps), *auth.routes(deps), *inbox.routes(deps), *teaching.routes(deps),
            *roster.routes(deps), *admin.routes(deps), *audit.routes(deps),
            *(group.routes(deps) if len(deps.envs) > 1 else []),
        ],
    )
