"""A small stand-in for the Graph API's Page endpoints, for tests and benchmarks.

It serves a Page's feed with embedded comments (field expansion, newest
first, `paging.next` links), `/{post}/comments` pages, multi-id reads
(`GET /?ids=a,b`, which the hourly re-read of recent comments uses) and
comment hiding, in the shapes the real API uses (see docs/connectors.md).
It can throttle (Meta code 4 as HTTP 400, or 80001 with a usage header) and
fail with random 5xx, from a seeded random generator.

    python -m connectors.fakeserver --port 8765 --posts 100 --comments 2000

then point an account's `api_base` at http://127.0.0.1:8765/v21.0.
Data is invented; no real person is named.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def graph_time(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclass
class FakePage:
    page_id: str = "1000"
    token: str = "page-token"
    throttle_rate: float = 0.0
    error_rate: float = 0.0
    seed: int = 1
    posts: dict[str, dict] = field(default_factory=dict)
    comments: dict[str, list[dict]] = field(default_factory=dict)  # post id -> comments, oldest first
    requests: int = 0
    throttled: list[float] = field(default_factory=list)  # time.monotonic() of each throttling answer
    _next: int = 1

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def _id(self) -> str:
        self._next += 1
        return str(10_000 + self._next)

    def add_post(self, created: datetime, message: str = "Post from the nursery", visitor: bool = False) -> str:
        pid = f"{self.page_id}_{self._id()}"
        author = {"id": "55", "name": "A Visitor"} if visitor else {"id": self.page_id, "name": "Little Acorns"}
        self.posts[pid] = {
            "id": pid,
            "created_time": graph_time(created),
            "updated_time": graph_time(created),
            "message": message,
            "permalink_url": f"https://www.facebook.com/{self.page_id}/posts/{pid.split('_')[1]}",
            "from": author,
            "is_hidden": False,
        }
        self.comments[pid] = []
        return pid

    def add_comment(self, post_id: str, created: datetime, message: str = "Lovely day", parent: str | None = None) -> str:
        cid = f"{post_id.split('_')[1]}_{self._id()}"
        link = f"{self.posts[post_id]['permalink_url']}/?comment_id={(parent or cid).split('_')[1]}"
        if parent:
            link += f"&reply_comment_id={cid.split('_')[1]}"
        c = {
            "id": cid,
            "message": message,
            "created_time": graph_time(created),
            # a visitor's id: never the Page's own (the first comment on each post once came "from the Page",
            # so the pipeline read it as the setting's own reply)
            "from": {"id": str(90_000_000 + len(self.comments[post_id])), "name": "A Parent"},
            "is_hidden": False,
            "can_hide": True,
            "permalink_url": link,
        }
        if parent:
            c["parent"] = {"id": parent}
        self.comments[post_id].append(c)
        self.comments[post_id].sort(key=lambda x: x["created_time"])
        return cid

    def find(self, ids: list[str]) -> dict[str, dict]:
        """The posts and comments with these ids (those that exist)."""
        wanted = set(ids)
        found = {i: self.posts[i] for i in wanted if i in self.posts}
        found |= {c["id"]: c for cs in self.comments.values() for c in cs if c["id"] in wanted}
        return found

    def all_ids(self) -> set[str]:
        return set(self.posts) | {c["id"] for cs in self.comments.values() for c in cs}


def _error(status: int, code: int, message: str, headers: dict | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "FAKE"}}
    return JSONResponse(body, status_code=status, headers=headers)


def _expansion_limit(fields: str, default: int = 25) -> int | None:
    if "comments." not in fields:
        return None
    m = re.search(r"comments\.[^{]*?limit\((\d+)\)", fields)
    return int(m.group(1)) if m else default


def make_app(world: FakePage) -> Starlette:
    def comments_page(request: Request, version: str, post_id: str, limit: int, after: int, fields: str) -> dict:
        newest_first = list(reversed(world.comments.get(post_id, [])))
        chunk = newest_first[after : after + limit]
        out: dict = {"data": chunk, "summary": {"order": "reverse_chronological", "total_count": len(newest_first),
                                                "can_comment": True}}
        paging: dict = {"cursors": {"before": f"c{after}", "after": f"c{after + len(chunk)}"}}
        if after + limit < len(newest_first):
            q = urlencode({"access_token": "access_token", "filter": "stream", "order": "reverse_chronological",
                           "limit": limit, "after": f"c{after + limit}", "fields": fields})
            paging["next"] = f"{str(request.base_url).rstrip('/')}/{version}/{post_id}/comments?{q}"
        out["paging"] = paging
        return out

    def fault() -> Response | None:
        world.requests += 1
        if world.throttle_rate and world.rng.random() < world.throttle_rate:
            world.throttled.append(time.monotonic())
            if world.rng.random() < 0.5:
                return _error(400, 4, "(#4) Application request limit reached")
            usage = {world.page_id: [{"type": "pages", "call_count": 100, "total_cputime": 20, "total_time": 20,
                                      "estimated_time_to_regain_access": 5}]}
            return _error(403, 80001, "(#80001) There have been too many calls to this Page account.",
                          {"X-Business-Use-Case-Usage": json.dumps(usage)})
        if world.error_rate and world.rng.random() < world.error_rate:
            return JSONResponse({"error": {"message": "An unexpected error has occurred.", "code": 2,
                                           "is_transient": True}}, status_code=world.rng.choice([500, 502, 503]))
        return None

    def authorised(request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {world.token}"

    async def node(request: Request) -> Response:
        if (bad := fault()) is not None:
            return bad
        if not authorised(request):
            return _error(400, 190, "Error validating access token: Session has expired.")
        version, obj, edge = request.path_params["version"], request.path_params["obj"], request.path_params.get("edge")
        q = request.query_params
        usage = {"X-App-Usage": json.dumps({"call_count": 5, "total_cputime": 2, "total_time": 3})}
        if edge == "feed" and obj == world.page_id:
            since = int(q.get("since", 0))
            limit = min(int(q.get("limit", 25)), 100)
            after = int(q.get("after", "p0")[1:])
            fields = q.get("fields", "")
            posts = sorted(world.posts.values(), key=lambda p: p["created_time"], reverse=True)
            posts = [p for p in posts if datetime.strptime(p["created_time"], "%Y-%m-%dT%H:%M:%S%z").timestamp() >= since]
            chunk = posts[after : after + limit]
            exp = _expansion_limit(fields)
            data = []
            for p in chunk:
                p = dict(p)
                if exp is not None:
                    cfields = fields[fields.index("comments.") :]
                    cfields = cfields[cfields.index("{") + 1 : cfields.rindex("}")]
                    p["comments"] = comments_page(request, version, p["id"], exp, 0, cfields)
                data.append(p)
            paging: dict = {"cursors": {"before": f"p{after}", "after": f"p{after + len(chunk)}"}}
            if after + limit < len(posts):
                nq = urlencode({"access_token": "access_token", "fields": fields, "limit": limit, "since": since,
                                "after": f"p{after + limit}"})
                paging["next"] = f"{str(request.base_url).rstrip('/')}/{version}/{obj}/feed?{nq}"
            return JSONResponse({"data": data, "paging": paging}, headers=usage)
        if edge == "comments" and obj in world.comments:
            after = int(q.get("after", "c0")[1:])
            limit = min(int(q.get("limit", 25)), 100)
            return JSONResponse(comments_page(request, version, obj, limit, after, q.get("fields", "")), headers=usage)
        if edge is None:
            comment = next((c for cs in world.comments.values() for c in cs if c["id"] == obj), None)
            if comment is None:
                return _error(400, 100, "(#100) Object does not exist")
            if request.method == "POST":
                comment["is_hidden"] = q.get("is_hidden") == "true"
                return JSONResponse({"success": True})
            return JSONResponse({"id": obj, "message": comment["message"], "can_hide": comment["can_hide"],
                                 "is_hidden": comment["is_hidden"]})
        return _error(400, 100, "(#100) Unknown path components")

    async def many(request: Request) -> Response:
        """`GET /?ids=a,b&fields=...`: one object per id; Graph refuses the whole read if one is missing."""
        if (bad := fault()) is not None:
            return bad
        if not authorised(request):
            return _error(400, 190, "Error validating access token: Session has expired.")
        ids = [i for i in request.query_params.get("ids", "").split(",") if i]
        found = world.find(ids)
        if not ids or len(found) < len(set(ids)):
            return _error(400, 100, "(#100) Some of the aliases you requested do not exist")
        fields = {"message", "is_hidden", "created_time", "permalink_url"}
        return JSONResponse({i: {"id": i, **{k: v for k, v in found[i].items() if k in fields}} for i in ids})

    return Starlette(
        routes=[
            Route("/{version}/", many, methods=["GET"]),
            Route("/{version}/{obj}/{edge}", node, methods=["GET"]),
            Route("/{version}/{obj}", node, methods=["GET", "POST"]),
        ]
    )


def busy_page(posts: int = 100, comments: int = 2000, now: datetime | None = None, **kw) -> FakePage:
    """A Page with `posts` posts over the last 60 days and `comments` comments spread over them."""
    now = now or datetime.now(timezone.utc)
    world = FakePage(**kw)
    rng = random.Random(7)
    ids = [world.add_post(now - timedelta(hours=6 + i * 14), f"Post {i}") for i in range(posts)]
    for n in range(comments):
        pid = ids[rng.randrange(len(ids))]
        created = datetime.strptime(world.posts[pid]["created_time"], "%Y-%m-%dT%H:%M:%S%z")
        when = min(now - timedelta(minutes=1), created + timedelta(minutes=rng.randrange(1, 300)))
        existing = world.comments[pid]
        parent = existing[rng.randrange(len(existing))]["id"] if existing and rng.random() < 0.3 else None
        if parent:
            parent = next(c for c in existing if c["id"] == parent).get("parent", {}).get("id", parent)
        world.add_comment(pid, when, f"Comment {n}", parent=parent)
    return world


class FakePages:
    """Many Pages behind one server, each answer after `latency` seconds: a
    nursery group's Pages for replica tests and benchmarks. A request goes to
    the Page whose id it names (a post id starts with its Page's id); ids
    never collide because each Page numbers its posts and comments from its
    own range. Every Page takes the same token. `requests` records each
    answered request: (Page id, the client's `X-Replica` header, start, end,
    path), times from `time.monotonic()`; `feeds` the start of each feed
    request, which begins every poll: (Page id, replica, start)."""

    def __init__(self, count: int, latency: float = 0.0, **kw):
        self.latency = latency
        self.requests: list[tuple[str, str, float, float, str]] = []
        self.feeds: list[tuple[str, str, float]] = []
        self.pages: dict[str, FakePage] = {}
        for n in range(count):
            page_id = str(10**12 + n)
            self.pages[page_id] = FakePage(page_id=page_id, seed=n + 1, _next=n * 10**6, **kw)
        self.apps = {page_id: make_app(page) for page_id, page in self.pages.items()}

    def owner(self, obj: str) -> str | None:
        if obj in self.pages:
            return obj
        head = obj.partition("_")[0]
        if head in self.pages:
            return head
        return next((pid for pid, page in self.pages.items() if any(
            c["id"] == obj for cs in page.comments.values() for c in cs)), None)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        parts = scope["path"].strip("/").split("/")
        page = self.owner(parts[1]) if len(parts) > 1 else None
        start = time.monotonic()
        if self.latency:
            await asyncio.sleep(self.latency)
        if page is None:
            await _error(400, 100, "(#100) Object does not exist")(scope, receive, send)
            return
        await self.apps[page](scope, receive, send)
        replica = dict(scope["headers"]).get(b"x-replica", b"").decode()
        self.requests.append((page, replica, start, time.monotonic(), scope["path"]))
        if parts[-1] == "feed":
            self.feeds.append((page, replica, start))


def main() -> None:  # pragma: no cover - a manual tool
    import uvicorn

    p = argparse.ArgumentParser(description="Serve a fake Facebook Page (Graph API) on 127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--posts", type=int, default=10)
    p.add_argument("--comments", type=int, default=50)
    p.add_argument("--throttle", type=float, default=0.0)
    p.add_argument("--errors", type=float, default=0.0)
    a = p.parse_args()
    world = busy_page(a.posts, a.comments, throttle_rate=a.throttle, error_rate=a.errors)
    print(f"page id {world.page_id}, token {world.token!r}, api_base http://127.0.0.1:{a.port}/v21.0")
    uvicorn.run(make_app(world), host="127.0.0.1", port=a.port, log_level="warning")


if __name__ == "__main__":  # pragma: no cover
    main()
