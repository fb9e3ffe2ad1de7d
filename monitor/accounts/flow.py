"""The authorisation-code dance shared by `connect google` and `connect x` (and
Facebook Login): build the authorisation URL (authlib, PKCE where the platform
uses it), get the person's answer back, exchange the code.

Two ways back from the browser:
- loopback: a one-shot HTTP server on 127.0.0.1 receives the redirect (a
  laptop with a browser);
- paste: on a server without a browser, the person opens the URL anywhere,
  and pastes the address the browser ends up on (the page itself may fail
  to load: only its address matters), or just the `code` from it.

The answer is checked against the `state` sent; a refusal (`error=access_denied`)
becomes `ConsentRefused`. The code is exchanged at once and never printed.
"""
from __future__ import annotations

import asyncio
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Callable, Protocol
from urllib.parse import parse_qsl, urlsplit

import httpx
from authlib.integrations.httpx_client import OAuthError

from monitor.accounts.oauth import FACTS, oauth_client


class ConnectError(Exception):
    """`connect` could not finish; the message says what to do."""


class ConsentRefused(ConnectError):
    pass


class Prompt(Protocol):
    def say(self, text: str) -> None: ...
    def ask(self, question: str) -> str: ...
    def open_browser(self, url: str) -> bool: ...


@dataclass
class ConsoleUI:
    """The terminal: questions on stdout, answers from stdin."""

    browser: bool = True

    def say(self, text: str) -> None:
        print(text, flush=True)

    def ask(self, question: str) -> str:
        return input(question).strip()

    def open_browser(self, url: str) -> bool:
        if not self.browser:
            return False
        import webbrowser

        try:
            return webbrowser.open(url)
        except webbrowser.Error:
            return False


def choose(ui: Prompt, what: str, options: list[str]) -> int:
    if len(options) == 1:
        ui.say(f"{what}: {options[0]}")
        return 0
    for i, label in enumerate(options, 1):
        ui.say(f"  {i}. {label}")
    while True:
        answer = ui.ask(f"Which {what}? [1-{len(options)}] ")
        if answer.isdigit() and 1 <= int(answer) <= len(options):
            return int(answer) - 1
        ui.say(f"Please answer with a number from 1 to {len(options)}.")


class LoopbackReceiver:
    """Waits for one redirect on 127.0.0.1 and keeps its query."""

    def __init__(self, port: int = 0, path: str = "/callback"):
        self.query: str | None = None
        self.got = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                parts = urlsplit(self.path)
                if parts.path != path:
                    self.send_error(404)
                    return
                receiver.query = parts.query
                receiver.got.set()
                body = b"nurserywatch: you can close this tab and go back to the terminal."
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # the query holds the code: never logged
                pass

        self.server = HTTPServer(("127.0.0.1", port), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_port}{path}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, timeout: float) -> str | None:
        self.got.wait(timeout)
        return self.query

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def read_answer(answer: str, state: str) -> str:
    """The code from a pasted redirect address (or a bare code); checks state and refusals."""
    answer = answer.strip()
    if not answer:
        raise ConnectError("nothing was pasted")
    if "=" not in answer and "/" not in answer:
        return answer  # the bare code
    query = urlsplit(answer).query if "://" in answer else answer.lstrip("?")
    params = dict(parse_qsl(query))
    if "error" in params:
        why = params.get("error_description") or params["error"]
        raise ConsentRefused(f"the authorisation was refused ({params['error']}: {why}); nothing was stored")
    if params.get("state") != state:
        raise ConnectError("the pasted address is from another attempt (its state does not match): start again")
    if not params.get("code"):
        raise ConnectError("the pasted address holds no code: paste the whole address the browser ended on")
    return params["code"]


async def authorization_code(
    platform: str, *, auth_url: str, token_url: str, client_id: str, client_secret: str | None,
    ui: Prompt, redirect_uri: str | None, paste: bool, extra: dict | None = None,
    transport: httpx.AsyncBaseTransport | None = None, wait: float = 300.0,
) -> dict:
    """Run the flow; returns the token response (a dict), or raises ConnectError."""
    receiver = None
    if not paste:
        port = urlsplit(redirect_uri).port if redirect_uri else 0
        path = urlsplit(redirect_uri).path if redirect_uri else "/callback"
        try:
            receiver = LoopbackReceiver(port or 0, path or "/callback")
        except OSError as err:
            raise ConnectError(f"cannot listen on 127.0.0.1:{port} for the redirect ({err.strerror}); "
                               "use --paste or another --redirect-uri port") from None
        redirect_uri = receiver.uri
    redirect_uri = redirect_uri or "http://127.0.0.1:8765/callback"
    verifier = secrets.token_urlsafe(48) if FACTS[platform].pkce else None
    try:
        async with oauth_client(platform, client_id, client_secret, redirect_uri=redirect_uri,
                                transport=transport) as client:
            url, state = client.create_authorization_url(auth_url, code_verifier=verifier, **(extra or {}))
            if receiver is not None and ui.open_browser(url):
                ui.say("A browser window is open: sign in there and allow access.")
                query = await asyncio.to_thread(receiver.wait, wait)
                if query is None:
                    raise ConnectError(f"no answer from the browser within {wait:.0f} s: start again, or use --paste")
                answer = "?" + query
            else:
                ui.say("Open this address in a browser, sign in and allow access:")
                ui.say(f"  {url}")
                ui.say(f"The browser is then sent to {redirect_uri}... (the page may not load: that is fine).")
                answer = ui.ask("Paste the whole address from the browser's address bar: ")
            code = read_answer(answer, state)
            try:
                pkce = {"code_verifier": verifier} if verifier else {}
                token = await client.fetch_token(token_url, code=code, grant_type="authorization_code", **pkce)
            except OAuthError as err:
                raise ConnectError(f"the platform refused the code ({err.error}: {err.description or ''}); "
                                   "start again") from None
            except httpx.HTTPError as err:
                raise ConnectError(f"cannot reach the token endpoint {token_url} ({type(err).__name__})") from None
    finally:
        if receiver is not None:
            receiver.close()
    return dict(token)
