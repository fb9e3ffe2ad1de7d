"""`nurserywatch check --config FILE --online`: will alerts reach people?

Offline (also part of `check-config`'s job, repeated here): what stops the
daemon, and warnings that do not stop it but defeat it (links that only open
on the server, a short signing key, a clock that ignores British Summer Time,
a sender without a domain, a Graph API version near its end).

Online: for each account, its credential is used the way the daemon uses it
(renewed if due) and the platform says whether it is valid, what kind it is,
which permissions it has and lacks, when it expires and what exactly is
watched; then the SMTP server is asked to connect, secure the connection and
log in (nothing is sent). Exit status 0 only without failures.
"""
from __future__ import annotations

import ipaddress
import os
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from typing import Callable
from urllib.parse import urlsplit

import httpx

from connectors.base import ConnectorError
from monitor.accounts.connect import APP_ENV, connect_command
from monitor.accounts.connect_meta import debug_token
from monitor.accounts.connect_oauth import X_API, google_listing_bases
from monitor.accounts.oauth import FACTS
from monitor.accounts.provider import AccountCredentials
from monitor.accounts.vault import Vault
from monitor.core.graph_api import GRAPH_BASE, currency_warning, version_in
from monitor.core.settings import AccountConfig, Config

NOT_REGIONS = {"GMT", "UTC", "UCT", "Universal", "Zulu", "Greenwich", "GB", "GB-Eire", "WET", "Europe/Belfast"}
GOOGLE_REVIEWS = "https://mybusiness.googleapis.com/v4"


@dataclass
class Line:
    level: str  # ok, warn, fail
    subject: str
    text: str

    def __str__(self) -> str:
        return f"{self.level.upper():4} {self.subject}: {self.text}"


def offline_lines(config: Config, today) -> list[Line]:
    out = [Line("fail", "config", p) for p in config.check_runnable()]
    base = urlsplit(config.web.base_url)
    host = base.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host.endswith(".localhost")
    if loopback:
        out.append(Line("warn", "web.base_url", f"{config.web.base_url} is this machine's own address: the links in "
                                               "alerts open only on the server, not on a phone"))
    elif base.scheme == "http":
        out.append(Line("warn", "web.base_url", "plain http: acknowledgement links travel unencrypted; use https"))
    tz = config.setting.timezone
    if tz in NOT_REGIONS or tz.startswith("Etc/"):
        out.append(Line("warn", "setting.timezone", f"{tz!r} is not a region: it ignores British Summer Time, so the "
                                                    "digest and times in emails are an hour out half the year; "
                                                    "use 'Europe/London'"))
    domain = config.email.from_.rpartition("@")[2]
    if "." not in domain:
        out.append(Line("warn", "email.from", f"{config.email.from_!r} has no real domain: mail from it is often "
                                              "rejected or marked as spam"))
    for acc in config.accounts:
        if acc.platform in ("facebook", "instagram"):
            w = currency_warning(version_in(acc.api_base or GRAPH_BASE), today)
            if w:
                out.append(Line("warn", acc.label, w))
    return out


def _missing_lines(acc: AccountConfig, granted: list[str] | None) -> list[Line]:
    if granted is None:
        return []
    facts = FACTS[acc.platform]
    out = [Line("fail", acc.label, f"missing permission {k}: {v}") for k, v in facts.read.items() if k not in granted]
    out += [Line("warn", acc.label, f"missing permission {k}: {v}") for k, v in facts.hide.items() if k not in granted]
    return out


def _opt(acc: AccountConfig, key: str):
    """An option whether `options` is a plain table or the platform's typed model."""
    opts = acc.options
    return opts.get(key) if isinstance(opts, dict) else getattr(opts, key, None)


async def _get(http: httpx.AsyncClient, url: str, token: str, **params) -> httpx.Response:
    return await http.get(url, params=params, headers={"Authorization": f"Bearer {token}"})


async def check_account(config: Config, acc: AccountConfig, vault: Vault | None, http: httpx.AsyncClient,
                        clock: Callable[[], datetime], transport=None) -> list[Line]:
    if acc.platform == "demo":
        return [Line("ok", acc.label, "demo account (sample comments)")]
    creds = AccountCredentials(acc, vault=vault, clock=clock, transport=transport)
    fix = connect_command(acc.platform, config, acc.id) if not acc.token_env else f"put a new token in {acc.token_env}"
    try:
        token = await creds.token()
    except ConnectorError as err:
        return [Line("fail", acc.label, f"no working credential: {err.detail}. Fix: {fix}")]
    stored = vault.load(acc.platform, acc.id) if vault is not None and not acc.token_env else None
    expiry = creds.expires_at
    renews = " (renewed automatically)" if creds.renews else ""
    when = f"access token expires {expiry:%Y-%m-%d %H:%M} UTC{renews}" if expiry else "does not expire"
    if acc.platform in ("facebook", "instagram"):
        base = (acc.api_base or GRAPH_BASE).rstrip("/")
        target = acc.id if acc.platform == "facebook" else _opt(acc, "ig_user_id") or acc.id
        fields = "id,name" if acc.platform == "facebook" else "id,username"
        resp = await _get(http, f"{base}/{target}", token, fields=fields)
        if resp.status_code != 200:
            return [Line("fail", acc.label, f"the token was refused (HTTP {resp.status_code}). Fix: {fix}")]
        body = resp.json()
        watched = body.get("name") or ("@" + str(body.get("username") or body.get("id")))
        id_env, secret_env = acc.client_id_env or APP_ENV[acc.platform][0], acc.client_secret_env or APP_ENV[acc.platform][1]
        app_id, app_secret = os.environ.get(id_env), os.environ.get(secret_env)
        lines = []
        if app_id and app_secret:
            report = await debug_token(http, base, acc.platform, token, f"{app_id}|{app_secret}")
            if not report.valid:
                return [Line("fail", acc.label, f"debug_token says the token is not valid ({report.error}). Fix: {fix}")]
            kind = f"{report.kind.lower()} token"
            if report.kind != "PAGE":
                lines.append(Line("fail", acc.label, f"a {report.kind} token, not a Page token: comments come without "
                                                     f"ids and cannot be hidden. Fix: {fix}"))
            when = f"expires {report.expires_at:%Y-%m-%d}" if report.expires_at else "does not expire"
            lines += _missing_lines(acc, report.scopes)
            scopes = ", ".join(report.scopes)
        elif stored is not None and stored.scopes:  # what debug_token said at `connect`
            kind, scopes = f"{stored.kind} token", ", ".join(stored.scopes) + " (as granted at connect)"
            lines += _missing_lines(acc, stored.scopes)
        else:
            kind, scopes = "token", f"unknown (set {id_env} and {secret_env} to check them)"
        return [Line("ok", acc.label, f"{kind}, valid, {when}; watching {watched}; permissions: {scopes}")] + lines
    if acc.platform == "google":
        base = (acc.api_base or GOOGLE_REVIEWS).rstrip("/")
        resp = await _get(http, f"{base}/{acc.id}/reviews", token, pageSize=1)
        if resp.status_code != 200:
            return [Line("fail", acc.label, f"Google refused (HTTP {resp.status_code}). Fix: {fix}")]
        _, info = google_listing_bases(acc.api_base)
        loc = acc.id.split("/locations/")[-1]
        title = await _get(http, f"{info}/locations/{loc}", token, readMask="title")
        watched = title.json().get("title") if title.status_code == 200 else (stored.label if stored else acc.id)
        granted = stored.scopes if stored and stored.scopes else None
        return [Line("ok", acc.label, f"OAuth token, valid, {when}; watching {watched} reviews")] + _missing_lines(acc, granted)
    # X
    base = (acc.api_base or X_API).rstrip("/")
    me = await _get(http, f"{base}/users/me", token)
    if me.status_code == 200:
        handle = (me.json().get("data") or {}).get("username")
        granted = stored.scopes if stored and stored.scopes else None
        return [Line("ok", acc.label, f"user token, valid, {when}; watching @{handle}")] + _missing_lines(acc, granted)
    if me.status_code == 403:  # an app-only bearer token cannot say who "me" is
        probe = await _get(http, f"{base}/users/{_opt(acc, 'user_id') or acc.id}", token)
        if probe.status_code == 200:
            handle = (probe.json().get("data") or {}).get("username")
            return [Line("ok", acc.label, f"app-only bearer token, valid; watching @{handle} read-only"),
                    Line("warn", acc.label, "an app-only token cannot hide replies: alerts will offer no hide button "
                                            f"and say why. For hiding: {connect_command('x', config, acc.id)}")]
    return [Line("fail", acc.label, f"X refused the token (HTTP {me.status_code}). Fix: {fix}")]


def check_smtp(config: Config, ssl_context: ssl.SSLContext | None = None) -> list[Line]:
    e = config.email
    if not e.smtp_host:
        return [Line("fail", "email", f"no smtp_host: messages are only written to {e.outbox_dir}, nobody is emailed")]
    where = f"{e.smtp_host}:{e.smtp_port}"
    context = ssl_context or ssl.create_default_context()
    steps = []
    try:
        conn = (smtplib.SMTP_SSL(e.smtp_host, e.smtp_port, timeout=e.smtp_timeout, context=context) if e.smtp_tls
                else smtplib.SMTP(e.smtp_host, e.smtp_port, timeout=e.smtp_timeout))
        with conn:
            steps.append("connected" + (" with TLS" if e.smtp_tls else ""))
            if e.smtp_starttls and not e.smtp_tls:
                conn.starttls(context=context)
                steps.append("STARTTLS")
            if e.smtp_username_env:
                conn.login(os.environ.get(e.smtp_username_env, ""), os.environ.get(e.smtp_password_env or "", ""))
                steps.append("logged in")
    except smtplib.SMTPAuthenticationError as err:
        return [Line("fail", "email", f"{where}: login refused ({err.smtp_code}): check {e.smtp_username_env} and "
                                      f"{e.smtp_password_env}")]
    except smtplib.SMTPNotSupportedError:
        return [Line("fail", "email", f"{where}: the server does not offer {'STARTTLS' if 'STARTTLS' not in steps else 'login'}")]
    except ssl.SSLError as err:
        return [Line("fail", "email", f"{where}: TLS failed ({err.reason or type(err).__name__})")]
    except (smtplib.SMTPException, OSError) as err:
        return [Line("fail", "email", f"{where}: cannot talk to the server ({type(err).__name__})")]
    if not e.smtp_starttls and not e.smtp_tls:
        return [Line("ok", "email", f"{where}: {', '.join(steps)}"),
                Line("warn", "email", "the connection is not encrypted (no STARTTLS or TLS)")]
    return [Line("ok", "email", f"{where}: {', '.join(steps)}")]


async def run_check(config: Config, vault: Vault | None, *, online: bool, clock: Callable[[], datetime],
                    transport: httpx.AsyncBaseTransport | None = None, ssl_context: ssl.SSLContext | None = None) -> list[Line]:
    lines = offline_lines(config, clock().astimezone(config.setting.tz).date())
    if not online:
        return lines
    async with httpx.AsyncClient(transport=transport, timeout=30.0) as http:
        for acc in config.accounts:
            try:
                lines += await check_account(config, acc, vault, http, clock, transport)
            except httpx.HTTPError as err:
                lines.append(Line("fail", acc.label, f"cannot reach the platform ({type(err).__name__})"))
    lines += check_smtp(config, ssl_context)
    return lines
