"""Rendering in real headless Chromium at phone width (390 px).

Checks that nothing is wider than the screen (no sideways scrolling) for the
alert email, the alert page, the record of concern and the digest, and saves a
screenshot of each (to NURSERYWATCH_SCREENSHOT_DIR when set, e.g. docs/screenshots,
else a temporary folder). Skipped when Chromium is not installed.
"""
from __future__ import annotations

import asyncio
import os
import re
import shutil
import struct
import subprocess
from datetime import datetime, timezone
from email import message_from_string, policy
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from alerts.digest import run_digest
from alerts.testing import make_world, raw_of
from monitor.core.models import OutboxMessage
from monitor.web import WebDeps, create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium)")

WIDTH = 390
# --dump-dom lays out at least 500 px wide, so the probe pins the page to the phone's
# width and reports the right edge of the widest element.
PIN = f"<style>html{{width:{WIDTH}px!important}}</style>"
PROBE = ("<script>var r=0;document.querySelectorAll('body *').forEach(function(e){"
         "r=Math.max(r,e.getBoundingClientRect().right)});"
         "document.body.setAttribute('data-right-edge',String(Math.ceil(r)));</script>")
LONG = "https://example.com/" + "x" * 90
COMMENT = (f"Miss Dana grabbed my son by the arm at pickup and he came home with a bruise. "
           f"Is this normal?? <script>alert(1)</script> See {LONG} "
           "Everyone should know what goes on at Little Acorns 😡😡")


def chromium(args: list[str], user_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         f"--user-data-dir={user_dir}", f"--window-size={WIDTH},2000", *args],
        capture_output=True, text=True, timeout=120,
    )


def render(html: str, name: str, tmp_path: Path) -> tuple[int, Path]:
    """(right edge of the widest element at phone width, screenshot) for one HTML page."""
    out_dir = Path(os.environ.get("NURSERYWATCH_SCREENSHOT_DIR") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    page = tmp_path / f"{name}.html"
    page.write_text(html, encoding="utf-8")
    shot = out_dir / f"{name}.png"
    chromium([f"--screenshot={shot}", page.as_uri()], tmp_path / "profile")
    probed = tmp_path / f"{name}.probe.html"
    probed.write_text(html.replace("</head>", PIN + "</head>").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = chromium(["--dump-dom", probed.as_uri()], tmp_path / "profile").stdout
    m = re.search(r'data-right-edge="(\d+)"', dom)
    assert m, f"Chromium did not render {name}: {dom[:300]!r}"
    return int(m.group(1)), shot


def png_width(path: Path) -> int:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">I", data[16:20])[0]


def fetch(world, url: str) -> str:
    app = create_app(WebDeps(world.sessions, world.env, world.clock, hide=lambda a, e: asyncio.sleep(0)))

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://w.example") as c:
            r = await c.get(url)
            assert r.status_code == 200
            return r.text

    return asyncio.run(go())


def html_part(raw: str) -> str:
    return message_from_string(raw, policy=policy.default).get_body(("html",)).get_content()


@pytest.fixture
def world(tmp_path):
    """One backend is enough to look at pages: SQLite, whatever the suite runs on."""
    w = make_world(tmp_path / "world", db_url=f"sqlite:///{tmp_path}/render.db")
    yield w
    w.close()


@pytest.fixture
def pages(world):
    alert_id = world.raise_alert(COMMENT, [("safeguarding", "high"), ("criticism", "medium")],
                                 evidence="grabbed my son by the arm", reason="physical harm to a child",
                                 author="Karen J")
    with world.sessions() as s:
        raw = raw_of(s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "alert")).first())
    token = world.env.signer.token("ack", alert_id, world.people["pat"])
    world.clock.set(datetime(2026, 11, 24, 7, 30, tzinfo=timezone.utc))
    run_digest(world.sessions, world.env, world.config.digest, world.clock())
    with world.sessions() as s:
        digest_raw = raw_of(s.scalars(select(OutboxMessage).where(OutboxMessage.address == "pat@acorns.example",
                                                                  OutboxMessage.kind == "digest")).one())
    return {
        "alert-email": html_part(raw),
        "alert-page": fetch(world, f"/a/{token}"),
        "record-of-concern": fetch(world, f"/a/{token}/record"),
        "hide-confirm": fetch(world, f"/h/{world.env.signer.token('hide', alert_id, world.people['pat'])}"),
        "digest-email": html_part(digest_raw),
    }


@pytest.mark.parametrize("name", ["alert-email", "alert-page", "record-of-concern", "hide-confirm", "digest-email"])
def test_renders_at_phone_width_without_sideways_scrolling(pages, name, tmp_path):
    right_edge, shot = render(pages[name], name, tmp_path)
    assert right_edge <= WIDTH, f"{name} is {right_edge}px wide on a {WIDTH}px phone"
    assert shot.exists() and png_width(shot) == WIDTH
    assert "<script>alert(1)</script>" not in pages[name]
