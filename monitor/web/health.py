"""/healthz, /readyz and /metrics, for the operator's monitoring.

/healthz says only that the process answers (a container or systemd liveness
probe: restarting will not fix a refused SMTP login). /readyz runs the checks
in `monitor.health` and answers 503 with the reasons when any fails; 200 with
status "degraded" when only a warning stands (an account's last poll failed,
inside its budget).
/metrics is the Prometheus exposition. None of them shows personal data, so
they need no token; still, keep them off the public internet (the Caddy
example in docs/operations.md does).
"""
from __future__ import annotations

import asyncio

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from monitor.health import Health, blocking
from monitor.metrics import DatabaseCollector, exposition


def health_routes(health: Health) -> list[Route]:
    collector = DatabaseCollector(health.sessions, health.clock)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        reasons = await health.check()
        return JSONResponse(health.as_json(reasons), status_code=503 if blocking(reasons) else 200,
                            headers={"Cache-Control": "no-store"})

    async def metrics(request: Request) -> Response:
        body = await asyncio.to_thread(exposition, collector)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]
