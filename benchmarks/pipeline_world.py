"""The pipeline benchmark's world, each part in its own process: a fake Facebook
Page (Graph API) filled from the classifier's corpus, and an SMTP sink.

`bench_pipeline.py` starts them (`FakeServer`, `SinkProcess`) so that neither
is counted in the pipeline's memory or CPU. Run directly only by those:

    python benchmarks/pipeline_world.py --serve COMMENTS PORT all|old
    python benchmarks/pipeline_world.py --sink PORT
"""
from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
CODE = Path(os.environ.get("BENCH_CODE") or HERE)
sys.path.insert(0, str(CODE))

TOKEN = "page-token"
FLAGGED_SHARE = 0.05


# -- texts -------------------------------------------------------------------
def corpus_texts() -> tuple[list[str], list[str]]:
    benign, flagged = [], []
    for path in sorted((HERE / "classifiers" / "data" / "corpus").glob("*/*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                (flagged if row.get("labels") else benign).append(row["text"])
    return benign, flagged



# -- the fake Graph server (its own process) ----------------------------------
def serve_fake(comments: int, port: int, old_only: bool = False) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    from connectors.fakeserver import FakePage, graph_time, make_app

    benign, flagged = corpus_texts()
    rng = random.Random(11)
    now = datetime.now(timezone.utc)
    world = FakePage(token=TOKEN)
    first = 30 if old_only else 6  # old_only: every post (and comment) older than a day
    posts = [world.add_post(now - timedelta(hours=first + i * 14), f"Post {i}") for i in range(100)]
    per_post: dict[str, list[dict]] = {p: [] for p in posts}
    for n in range(comments):
        pid = posts[rng.randrange(len(posts))]
        text = rng.choice(flagged if rng.random() < FLAGGED_SHARE else benign)
        per_post[pid].append({"n": n, "text": text})
    for pid, rows in per_post.items():
        created = datetime.strptime(world.posts[pid]["created_time"], "%Y-%m-%dT%H:%M:%S%z")
        for i, row in enumerate(rows):  # oldest first, a few seconds apart, never in the future
            when = min(now - timedelta(hours=25 if old_only else 0, minutes=1), created + timedelta(seconds=3 * i))
            cid = f"{pid.split('_')[1]}_{20_000_000 + row['n']}"
            world.comments[pid].append({
                "id": cid, "message": row["text"], "created_time": graph_time(when),
                "from": {"id": str(5000 + row["n"] % 997), "name": "A Parent"}, "is_hidden": False, "can_hide": True,
                "permalink_url": f"{world.posts[pid]['permalink_url']}/?comment_id={cid.split('_')[1]}",
            })
    feed_log: list[float] = []

    async def add(request: Request) -> JSONResponse:
        spec = await request.json()
        t = datetime.now(timezone.utc)
        pid = world.add_post(t - timedelta(seconds=30), "New post")
        out = []
        for i in range(spec["n"]):
            if i < len(spec.get("texts", [])):
                text = spec["texts"][i]
            else:
                text = rng.choice(flagged if rng.random() < spec.get("share", FLAGGED_SHARE) else benign)
            out.append(world.add_comment(pid, t - timedelta(seconds=1), text))
        return JSONResponse({"post": pid, "comments": out, "at": time.time()})

    async def log(request: Request) -> JSONResponse:
        return JSONResponse(feed_log)

    graph = make_app(world)

    async def logged(scope, receive, send):
        if scope["type"] == "http" and scope["path"].endswith("/feed") and b"after=" not in scope["query_string"]:
            feed_log.append(time.time())
        await graph(scope, receive, send)

    app = Starlette(routes=[Route("/_bench/add", add, methods=["POST"]), Route("/_bench/log", log),
                            Mount("/", app=logged)])
    print("ready", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeServer:
    def __init__(self, comments: int, old_only: bool = False):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(comments), str(self.port), "old" if old_only else "all"],
            stdout=subprocess.PIPE,
            env=os.environ | {"BENCH_CODE": str(CODE)},
        )
        assert self.proc.stdout.readline().strip() == b"ready"
        import httpx

        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60)
        for _ in range(200):
            try:
                self.http.get("/_bench/log")
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        self.api_base = f"http://127.0.0.1:{self.port}/v21.0"

    def add(self, n: int, texts: list[str] = (), share: float = FLAGGED_SHARE) -> dict:
        return self.http.post("/_bench/add", json={"n": n, "texts": list(texts), "share": share}).json()

    def feed_log(self) -> list[float]:
        return self.http.get("/_bench/log").json()

    def close(self) -> None:
        self.http.close()
        self.proc.terminate()
        self.proc.wait(10)


# -- an SMTP sink --------------------------------------------------------------
class Sink:
    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list[tuple[float, str]] = []
        self.subjects: list[str] = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                from email import message_from_bytes, policy

                msg = message_from_bytes(envelope.content, policy=policy.default)
                body = msg.get_body(("plain",))
                sink.messages.append((time.time(), body.get_content() if body else ""))
                sink.subjects.append(str(msg["Subject"]))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()


def serve_sink(port: int) -> None:
    """An SMTP sink that prints each message's time and subject (a line each)."""
    from email.parser import BytesHeaderParser
    from email import policy
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            subject = BytesHeaderParser(policy=policy.default).parsebytes(envelope.content)["Subject"]
            print(f"{time.time()}\t{subject}", flush=True)
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    threading.Event().wait()


class SinkProcess:
    """The SMTP sink in its own process, so parsing what it receives (a first run's
    summary can be megabytes) is not counted in the pipeline's memory. Bodies are not kept."""

    def __init__(self):
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, __file__, "--sink", str(self.port)], stdout=subprocess.PIPE,
                                     text=True, env=os.environ | {"BENCH_CODE": str(CODE)})
        assert self.proc.stdout.readline().strip() == "ready"
        self.messages: list[tuple[float, str]] = []
        self.subjects: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            at, _, subject = line.rstrip("\n").partition("\t")
            self.subjects.append(subject)
            self.messages.append((float(at), ""))

    def settle(self) -> None:
        """Wait until what the sink accepted has been read here (no new line for 0.3 s)."""
        seen = -1
        while seen != len(self.messages):
            seen = len(self.messages)
            time.sleep(0.3)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve_fake(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "old")
    elif sys.argv[1:2] == ["--sink"]:
        serve_sink(int(sys.argv[2]))
    else:
        raise SystemExit(__doc__)
