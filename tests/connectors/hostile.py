"""A hostile imitation of the Graph API on 127.0.0.1, for tests.

The first path segment picks the misbehaviour; the rest is a Graph path, so
an account's `api_base` is `http://127.0.0.1:<port>/<mode>/v21.0`:

  ok         a good feed: one post with one comment
  trickle    headers at once, then one byte every `trickle_every` seconds
  oversized  a valid page larger than the client's limit (with and without Content-Length)
  chunked    the same, without Content-Length
  malformed  bad items (a bad time, a list for text, a string for an object) beside good ones
  redirect   302 to another host
  html       an HTML error page with status 502
  html200    an HTML page with status 200
Data is invented; no real person is named.
"""
from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from datetime import datetime, timedelta, timezone

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

PAGE_ID = "1000"
CONCERN = "Miss Sarah shouted at my son and grabbed his arm at pick up"


def graph_time(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


def good_post(now: datetime, n: int = 1) -> dict:
    return {
        "id": f"{PAGE_ID}_{n}",
        "created_time": graph_time(now - timedelta(hours=n)),
        "message": "Our open day is on Saturday",
        "from": {"id": PAGE_ID, "name": "Little Acorns"},
        "comments": {"data": [{
            "id": f"{PAGE_ID}_{n}_c1",
            "message": CONCERN,
            "created_time": graph_time(now - timedelta(minutes=30)),
            "from": {"id": "77", "name": "A Parent"},
            "can_hide": True,
        }]},
    }


def malformed_feed(now: datetime) -> dict:
    return {"data": [
        {"id": f"{PAGE_ID}_90", "created_time": "not a time", "message": "bad time"},
        {"id": f"{PAGE_ID}_91", "created_time": graph_time(now), "message": ["a", "list"]},
        {"id": f"{PAGE_ID}_92", "created_time": graph_time(now), "from": "a string where an object belongs"},
        "not even an object",
        good_post(now) | {"comments": {"data": [
            {"id": f"{PAGE_ID}_1_bad", "message": "x", "created_time": {"nested": True}},
            good_post(now)["comments"]["data"][0],
        ]}},
    ]}


class Hostile:
    def __init__(self, now: datetime, trickle_every: float = 0.3, size: int = 2 * 1024 * 1024):
        self.now, self.trickle_every, self.size = now, trickle_every, size
        self.requests: dict[str, int] = {}

    async def handle(self, request: Request) -> Response:
        mode = request.path_params["mode"]
        self.requests[mode] = self.requests.get(mode, 0) + 1
        if mode == "ok":
            return JSONResponse({"data": [good_post(self.now)]})
        if mode == "trickle":
            async def drip():
                for _ in range(200):
                    yield b" "
                    await asyncio.sleep(self.trickle_every)
            return StreamingResponse(drip(), media_type="application/json")
        if mode in ("oversized", "chunked"):
            filler = {"id": f"{PAGE_ID}_2", "created_time": graph_time(self.now), "message": "x" * self.size}
            body = json.dumps({"data": [good_post(self.now), filler]}).encode()
            if mode == "oversized":
                return Response(body, media_type="application/json")
            async def chunks():
                for i in range(0, len(body), 65536):
                    yield body[i:i + 65536]
            return StreamingResponse(chunks(), media_type="application/json")
        if mode == "malformed":
            return JSONResponse(malformed_feed(self.now))
        if mode == "redirect":
            return RedirectResponse("https://login.example.net/checkpoint", status_code=302)
        if mode == "html":
            return HTMLResponse("<html><body><h1>502 Bad Gateway</h1></body></html>", status_code=502)
        if mode == "html200":
            return HTMLResponse("<html><body>Please log in</body></html>")
        return JSONResponse({"error": {"message": "unknown mode", "code": 100}}, status_code=400)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{mode}/v21.0/{rest:path}", self.handle, methods=["GET", "POST"])])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """Runs an ASGI app with uvicorn on 127.0.0.1 in a thread."""

    def __init__(self, app):
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="off", ws="none", http="h11",
                                                    timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "Served":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def base(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.port}/{mode}/v21.0"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
