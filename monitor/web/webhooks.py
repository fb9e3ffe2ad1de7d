"""POST /webhooks/meta: Meta's signed deliveries, verified, queued, answered.

The signature (`X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the raw
body with the app secret) is checked in constant time before anything is
parsed; a missing or wrong one gets 401 and nothing is stored. A verified
delivery is stored as received (`monitor.webhook_events.queue_event`) and
answered 200 at once; the work happens off the request (`on_queued` wakes
the processor). GET /webhooks/meta answers Meta's subscription check: with
`hub.mode=subscribe` and the right `hub.verify_token`, it echoes
`hub.challenge`; otherwise 403.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from monitor.metrics import WEBHOOK_EVENTS
from monitor.webhook_events import queue_event

log = logging.getLogger(__name__)

MAX_BODY = 4 * 1024 * 1024  # Meta batches up to 1000 changes; far below this


@dataclass(frozen=True)
class MetaWebhook:
    app_secret: str
    verify_token: str
    on_queued: Callable[[], None] = lambda: None  # wake the processor


def signature_ok(secret: str, raw: bytes, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").strip().lower())


def sign(secret: str, raw: bytes) -> str:
    """The header value Meta would send; for tests, benchmarks and replaying a delivery."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def routes(deps) -> list[Route]:
    """The routes, given the app's WebDeps (`deps.meta_webhook` None: not configured, 404)."""

    async def challenge(request: Request) -> Response:
        hook: MetaWebhook | None = deps.meta_webhook
        if hook is None:
            return PlainTextResponse("webhooks are not configured", status_code=404)
        q = request.query_params
        token_ok = hmac.compare_digest(q.get("hub.verify_token", "").encode(), hook.verify_token.encode())
        if q.get("hub.mode") != "subscribe" or not token_ok:
            log.warning("webhook subscription check refused (wrong mode or verify token)")
            return PlainTextResponse("verification failed", status_code=403)
        return PlainTextResponse(q.get("hub.challenge", ""))

    async def receive(request: Request) -> Response:
        hook: MetaWebhook | None = deps.meta_webhook
        if hook is None:
            return PlainTextResponse("webhooks are not configured", status_code=404)
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY:
            return PlainTextResponse("delivery too large", status_code=413)
        raw = await request.body()
        if not signature_ok(hook.app_secret, raw, request.headers.get("x-hub-signature-256")):
            log.warning("webhook delivery refused: missing or wrong X-Hub-Signature-256")
            WEBHOOK_EVENTS.labels("meta", "refused").inc()
            return PlainTextResponse("missing or wrong X-Hub-Signature-256", status_code=401)
        try:
            json.loads(raw.decode("utf-8"))
        except ValueError:  # also UnicodeDecodeError
            return PlainTextResponse("the body is not JSON", status_code=400)
        fresh = await run_in_threadpool(_queue, deps, raw)  # a busy database never blocks the event loop
        WEBHOOK_EVENTS.labels("meta", "queued" if fresh else "replay").inc()
        if fresh:
            hook.on_queued()
        else:
            log.info("webhook delivery already queued (a replay); ignored")
        return PlainTextResponse("ok")

    def _queue(deps, raw: bytes) -> bool:
        with deps.sessions.begin() as session:
            return queue_event(session, deps.env.setting_id, "meta", raw, deps.clock())

    return [
        Route("/webhooks/meta", challenge, methods=["GET"]),
        Route("/webhooks/meta", receive, methods=["POST"]),
    ]
