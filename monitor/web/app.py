"""The Starlette app: the email-link pages and the manager's web app, mounted together.

Each surface is a sibling module with a `routes(deps)` list: `pages` (the
signed alert links), `auth` (sign-in, sessions), `inbox` (alerts and their
outcomes), `teaching` (phrase rules, missed comments), `roster`, `admin`,
`audit`.
"""
from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from monitor.web import admin, audit, auth, inbox, pages, roster, teaching
from monitor.web.pages import LinkProblem, WebDeps, problem_page


def create_app(deps: WebDeps) -> Starlette:
    async def link_problem(request: Request, exc: Exception) -> Response:
        return problem_page(request, exc)

    return Starlette(
        exception_handlers={LinkProblem: link_problem, auth.SignInNeeded: auth.sign_in_redirect},
        routes=[
            *pages.routes(deps), *auth.routes(deps), *inbox.routes(deps), *teaching.routes(deps),
            *roster.routes(deps), *admin.routes(deps), *audit.routes(deps),
        ],
    )
