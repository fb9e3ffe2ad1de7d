"""The daemon against a local server imitating the Graph API, with throttling
and random 5xx, ingests every comment exactly once across repeated cycles."""
from __future__ import annotations

import asyncio
import socket
import threading
import time
from datetime import timedelta

import pytest
import uvicorn
from sqlalchemy import func, select

from connectors.fakeserver import busy_page, make_app
from connectors.testing import Sleeps
from monitor.core.models import Account, Item
from monitor.pipeline import run_cycle
from monitor.threads import classifier_inputs
from monitor.runtime import build_runtime
from tests.monitor.test_pipeline_accounts import Quiet


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def graph_server(clock):
    world = busy_page(posts=15, comments=300, now=clock.now, throttle_rate=0.08, error_rate=0.25, seed=11)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(make_app(world), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off", ws="none", http="h11"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield world, f"http://127.0.0.1:{port}/v21.0"
    server.should_exit = True
    thread.join(timeout=10)


def test_every_comment_is_stored_exactly_once_through_faults(graph_server, make_config, sessions, clock, monkeypatch,
                                                             caplog):
    caplog.set_level("DEBUG")
    world, base = graph_server
    monkeypatch.setenv("FB_TOKEN", world.token)
    config = make_config(accounts=[{"platform": "facebook", "id": world.page_id, "token_env": "FB_TOKEN",
                                    "api_base": base, "options": {"comments_embedded": 10, "comments_per_page": 25}}])
    rt = build_runtime(config, clock=clock, sessions=sessions, classifier=Quiet())
    for conn in rt.connectors.values():  # no real waiting between retries
        conn.http.sleep = conn.http.pacer.sleep = Sleeps()
    posts = list(world.posts)
    states = []

    async def cycles():
        for n in range(40):
            if n < 30:  # people keep commenting, on new and old posts, replies too
                post = posts[n % len(posts)]
                world.add_comment(post, clock.now - timedelta(seconds=30), f"late comment {n}")
                if n % 3 == 0:
                    parent = world.comments[post][0]["id"]
                    world.add_comment(post, clock.now - timedelta(seconds=20), f"late reply {n}", parent=parent)
                if n % 10 == 0:
                    posts.append(world.add_post(clock.now - timedelta(minutes=1), f"new post {n}"))
            if n == 32:
                world.throttle_rate = world.error_rate = 0.0  # the outage ends
            await run_cycle(rt)
            with sessions() as s:
                states.append(s.scalar(select(Account.state)))
            clock.advance(minutes=5)
        await rt.aclose()

    asyncio.run(cycles())

    with sessions() as s:
        stored = list(s.scalars(select(Item.external_id)))
        rows = s.scalar(select(func.count()).select_from(Item))
    assert len(stored) == rows == len(set(stored))  # no duplicates
    assert set(stored) == world.all_ids()  # nothing missed
    assert "backing_off" in states  # the throttling really happened
    assert states[-1] == "ok"
    logged = caplog.text
    assert "rate limited" in logged and "recovered" in logged  # failures logged when they start and end
    assert "Comment" not in logged and "late " not in logged and world.token not in logged  # no text, no token


def test_a_visitors_first_comment_on_a_new_post_is_not_read_as_the_pages_own(graph_server, make_config, sessions,
                                                                             clock, monkeypatch):
    """The fake Page once gave the first comment on each post the Page's own id as its author, so the
    pipeline read it as the setting's reply (which the classifier damps): a benchmark's disclosures
    posted that way were never alerted."""
    world, base = graph_server
    monkeypatch.setenv("FB_TOKEN", world.token)
    config = make_config(accounts=[{"platform": "facebook", "id": world.page_id, "token_env": "FB_TOKEN",
                                    "api_base": base}])
    rt = build_runtime(config, clock=clock, sessions=sessions, classifier=Quiet())
    for conn in rt.connectors.values():
        conn.http.sleep = conn.http.pacer.sleep = Sleeps()
    world.throttle_rate = world.error_rate = 0.0
    post = world.add_post(clock.now - timedelta(minutes=2), "New post")
    cid = world.add_comment(post, clock.now - timedelta(minutes=1), "a parent's first comment")

    async def cycle():
        await run_cycle(rt)
        await rt.aclose()

    asyncio.run(cycle())
    with sessions() as s:
        item = s.scalar(select(Item).where(Item.external_id == cid))
        (_text, _platform, _rating, thread, is_setting, _author), = classifier_inputs(s, [item])
    assert not is_setting and thread[0].is_setting  # the post is the Page's, the comment a visitor's
