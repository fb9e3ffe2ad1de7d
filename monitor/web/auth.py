"""Sign-in by emailed link, server-side sessions and CSRF tokens.

- `POST /login` sends a link to an active recipient's address and answers the
  same page whatever the address, so nobody can test which addresses exist.
  Requests are rate-limited per address and per IP.
- The link (`/login/<token>`) is signed and names a `login_token` row: a GET
  only shows a button (mail scanners open links), the POST signs in, marks the
  row used (single use) and refuses rows older than 15 minutes.
- A session is a random cookie whose hash is a `web_session` row: HttpOnly,
  SameSite=Lax, Secure when `base_url` is https, ended after 12 hours idle or
  by signing out (server-side). A session opened from an alert email's link is
  good for that alert only.
- Every POST carries a CSRF token: the session's, or before sign-in one bound
  to a random pre-session cookie. Without it: 403.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from alerts import outbox
from alerts.ack import Actor
from alerts.links import LinkError
from alerts.visibility import READER_ROLES
from monitor.core.models import Recipient
from monitor.core.webmodels import LoginAttempt, LoginToken, WebSession
from monitor.web.pages import LinkProblem, WebDeps, off_loop, page

log = logging.getLogger(__name__)

SESSION_COOKIE = "nw_session"
PRE_COOKIE = "nw_pre"
LINK_LIFETIME = timedelta(minutes=15)
IDLE_LIMIT = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=1)
RATE_WINDOW = timedelta(minutes=15)
PER_ADDRESS = 5  # sign-in requests per address per window
PER_IP = 20  # sign-in requests per IP per window


@dataclass(frozen=True)
class SignedIn:
    recipient_id: int
    session_id: int
    alert_id: int | None  # set: this session may open only that alert
    csrf: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def secure_cookies(deps: WebDeps) -> bool:
    return deps.env.signer.base_url.startswith("https://")


def set_cookie(deps: WebDeps, resp: Response, name: str, value: str) -> None:
    resp.set_cookie(name, value, httponly=True, samesite="lax", secure=secure_cookies(deps), path="/")


def current(deps: WebDeps, request: Request, session: Session) -> SignedIn | None:
    """The signed-in session for this request, or None (absent, ended or idle too long)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    row = session.scalar(select(WebSession).where(WebSession.token_hash == _hash(token)))
    now = deps.clock()
    if row is None or row.ended_at is not None or row.setting_id != deps.env.setting_id:
        return None
    if now - row.last_seen_at >= IDLE_LIMIT:
        row.ended_at = now
        session.commit()
        return None
    person = session.get(Recipient, row.recipient_id)
    if person is None or not person.active:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        session.commit()
    return SignedIn(row.recipient_id, row.id, row.alert_id, row.csrf)


def start_session(deps: WebDeps, session: Session, recipient_id: int, alert_id: int | None) -> str:
    token = secrets.token_urlsafe(32)
    now = deps.clock()
    setting_id = session.get(Recipient, recipient_id).setting_id  # a group: the person's setting (monitor.web.group)
    session.add(WebSession(token_hash=_hash(token), setting_id=setting_id, recipient_id=recipient_id,
                           alert_id=alert_id, csrf=secrets.token_urlsafe(24), created_at=now, last_seen_at=now))
    return token


def require(deps: WebDeps, request: Request, *, alert_id: int | None = None) -> SignedIn:
    """The session, or a redirect to /login (raised as LinkProblem's sibling, `SignInNeeded`).

    A session opened from an alert link passes only for that alert (`alert_id`)."""
    with deps.sessions() as session:
        who = current(deps, request, session)
    if who is None:
        raise SignInNeeded(request.url.path)
    if who.alert_id is not None and who.alert_id != alert_id:
        raise LinkProblem(403, "This sign-in is for one alert only",
                          "You opened nurserywatch from an alert email, so you can see that alert only. "
                          "Sign in with your email address to see the rest.")
    return who


class SignInNeeded(Exception):
    def __init__(self, path: str):
        self.path = path


def sign_in_redirect(request: Request, exc: Exception) -> Response:
    return RedirectResponse(f"/login?next={quote(exc.path)}", status_code=303)


def pre_token(deps: WebDeps, request: Request) -> tuple[str, str | None]:
    """(CSRF token for an anonymous form, new pre-session cookie value or None)."""
    pre = request.cookies.get(PRE_COOKIE)
    fresh = None
    if not pre:
        pre = fresh = secrets.token_urlsafe(16)
    return deps.env.signer.mac("csrf", pre), fresh


def check_csrf(deps: WebDeps, request: Request, who: SignedIn | None, form: FormData | None) -> FormData:
    """The POSTed form, once its CSRF token is checked (403 without a good one)."""
    sent = str(form.get("csrf", "")) if form is not None else ""
    if who is not None:
        expected = who.csrf
    else:
        pre = request.cookies.get(PRE_COOKIE, "")
        expected = deps.env.signer.mac("csrf", pre) if pre else ""
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise LinkProblem(403, "This form has expired",
                          "Go back, reload the page and try again.")
    return form


async def checked_form(deps: WebDeps, request: Request, who: SignedIn | None) -> FormData:
    """`check_csrf` for a handler on the event loop (one with no database work)."""
    return check_csrf(deps, request, who, await request.form())


def _safe_next(value: str | None) -> str:
    return value if value and value.startswith("/") and not value.startswith("//") else "/alerts"


def _anonymous_page(deps: WebDeps, request: Request, name: str, ctx: dict, status: int = 200) -> Response:
    csrf, fresh = pre_token(deps, request)
    resp = page(request, name, ctx | {"csrf": csrf, "setting_name": deps.env.setting_name}, status)
    if fresh:
        set_cookie(deps, resp, PRE_COOKIE, fresh)
    return resp


def _rate_limited(session: Session, keys: list[tuple[str, int]], now) -> bool:
    session.execute(delete(LoginAttempt).where(LoginAttempt.created_at < now - RATE_WINDOW))
    for key, limit in keys:
        count = session.scalar(select(func.count(LoginAttempt.id)).where(LoginAttempt.key == key))
        if count >= limit:
            return True
    for key, _ in keys:
        session.add(LoginAttempt(key=key, created_at=now))
    return False


def _send_link(deps: WebDeps, session: Session, person: Recipient) -> None:
    now = deps.clock()
    row = LoginToken(setting_id=person.setting_id, recipient_id=person.id, created_at=now)
    session.add(row)
    session.flush()
    token = deps.env.signer.token("login", row.id, person.id)
    outbox.enqueue(session, setting_id=person.setting_id, dedup_key=f"signin:{row.id}", kind="signin",
                   template="signin", address=person.email, now=now, recipient_id=person.id,
                   context={"setting_name": deps.env.setting_name, "name": person.name,
                            "url": f"{deps.env.signer.base_url}/login/{token}",
                            "minutes": int(LINK_LIFETIME.total_seconds() // 60)})
    log.info("sign-in link queued for recipient %s", person.id)


def _claim_link(deps: WebDeps, session: Session, token: str, *, consume: bool) -> LoginToken:
    try:
        claims = deps.env.signer.verify("login", token)
    except LinkError:
        raise LinkProblem(400, "This sign-in link is not valid",
                          "Ask for a new link on the sign-in page, and open it from the newest email.")
    row = session.get(LoginToken, claims.alert_id)
    if row is None or row.recipient_id != claims.recipient_id or row.setting_id not in deps.setting_ids:
        raise LinkProblem(400, "This sign-in link is not valid", "Ask for a new link on the sign-in page.")
    if row.used_at is not None:
        raise LinkProblem(410, "This sign-in link has been used",
                          "Each link signs in once. Ask for a new link on the sign-in page.")
    if deps.clock() - row.created_at > LINK_LIFETIME:
        raise LinkProblem(410, "This sign-in link has expired",
                          "Links work for 15 minutes. Ask for a new link on the sign-in page.")
    person = session.get(Recipient, row.recipient_id)
    if person is None or not person.active:
        raise LinkProblem(403, "This sign-in link is no longer valid", "Ask the manager to check your access.")
    if consume:
        row.used_at = deps.clock()
    return row


def routes(deps: WebDeps) -> list[Route]:
    # database work runs in worker threads (`off_loop`): a locked database delays these pages, never the others
    @off_loop
    def home(request: Request, form) -> Response:
        with deps.sessions() as session:
            who = current(deps, request, session)
        if who and who.alert_id:
            return RedirectResponse(f"/alerts/{who.alert_id}", status_code=303)
        return RedirectResponse(home_page(deps) if who else "/login", status_code=303)

    async def login_form(request: Request) -> Response:
        return _anonymous_page(deps, request, "login.html", {"next": _safe_next(request.query_params.get("next"))})

    @off_loop
    def login_post(request: Request, form) -> Response:
        check_csrf(deps, request, None, form)
        email = str(form.get("email", "")).strip().lower()[:320]
        ip = request.client.host if request.client else "unknown"
        with deps.sessions.begin() as session:
            keys = [(f"ip:{ip}"[:100], PER_IP), ("email:" + _hash(email)[:40], PER_ADDRESS)]
            if _rate_limited(session, keys, deps.clock()):
                log.warning("sign-in requests rate limited")
                limited = True
            else:
                limited = False
                person = session.scalar(select(Recipient).where(  # a group: their first setting's row
                    Recipient.setting_id.in_(deps.setting_ids), Recipient.email == email, Recipient.active.is_(True))
                    .order_by(Recipient.id).limit(1))
                if person is not None:
                    _send_link(deps, session, person)
        if limited:
            return _anonymous_page(deps, request, "login.html", {"limited": True, "next": "/alerts"}, 429)
        return _anonymous_page(deps, request, "login.html", {"sent": True, "email": email, "next": "/alerts"})

    @off_loop
    def link_page(request: Request, form) -> Response:
        token = request.path_params["token"]
        with deps.sessions() as session:
            _claim_link(deps, session, token, consume=False)
        return _anonymous_page(deps, request, "signin.html", {"token": token})

    @off_loop
    def link_post(request: Request, form) -> Response:
        token = request.path_params["token"]
        check_csrf(deps, request, None, form)
        with deps.sessions.begin() as session:
            row = _claim_link(deps, session, token, consume=True)
            cookie = start_session(deps, session, row.recipient_id, None)
        resp = RedirectResponse(home_page(deps), status_code=303)
        set_cookie(deps, resp, SESSION_COOKIE, cookie)
        return resp

    @off_loop
    def logout(request: Request, form) -> Response:
        with deps.sessions() as session:
            who = current(deps, request, session)
        if who is not None:
            check_csrf(deps, request, who, form)
            with deps.sessions.begin() as session:
                session.get(WebSession, who.session_id).ended_at = deps.clock()
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookies(deps))
        return resp

    return [
        Route("/", home),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login_post, methods=["POST"]),
        Route("/login/{token}", link_page, methods=["GET"]),
        Route("/login/{token}", link_post, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
    ]


def home_page(deps: WebDeps) -> str:
    """Where a signed-in person starts: the group view in a group (monitor.web.group), else the inbox."""
    return "/group" if len(deps.setting_ids) > 1 else "/alerts"


def nav_for(roles: list[str], scoped: bool) -> list[tuple[str, str]]:
    """The menu a person sees: only the pages their roles open."""
    if scoped:
        return []
    items = []
    if READER_ROLES & set(roles):
        items += [("/alerts", "Alerts"), ("/comments", "Missed comments"), ("/phrases", "Phrases"),
                  ("/roster", "Roster"), ("/audit", "Audit log")]
    if "admin" in roles:
        items.append(("/admin", "Accounts and delivery"))
    return items


def app_page(deps: WebDeps, request: Request, who: SignedIn, person: Recipient, name: str, ctx: dict,
             status: int = 200) -> Response:
    """A signed-in page: the menu, the CSRF token and who is signed in."""
    return page(request, name, {
        "csrf": who.csrf, "me": person, "scoped": who.alert_id is not None,
        "nav": ([("/group", "All settings")] if len(deps.setting_ids) > 1 and who.alert_id is None else [])
        + nav_for(list(person.roles), who.alert_id is not None), "path": request.url.path,
        "setting_name": deps.env.setting_name, **ctx,
    }, status)


def need_role(person: Recipient, roles: frozenset[str] | set[str]) -> None:
    if not (set(person.roles) & set(roles)):
        raise LinkProblem(403, "Not for your role", "This page is for other roles. Ask the manager if you need it.")


def actor_for(request: Request, person: Recipient) -> Actor:
    return Actor(person, request.client.host if request.client else None, request.headers.get("user-agent"))
