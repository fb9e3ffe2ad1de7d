"""The web app in a real browser: Playwright driving the system Chromium against
the app served by uvicorn on 127.0.0.1.

One manager's path, at phone width (390 px) and desktop width (1280 px): sign
in by the emailed link, see the inbox, open an alert, close it as not a
concern, add a "never flag" phrase, and see the next cycle not alert on it.
Every form is worked from the keyboard (focus, then Enter or Space); every
page is checked for unlabelled inputs and for sideways scrolling. Skipped when
Chromium or Playwright is absent (`.ci/run` installs Chromium; never run
`playwright install`, which downloads browsers).
"""
from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from alerts.testing import free_port, make_world
from monitor.core.types import CycleReport
from monitor.pipeline import classify_pending
from monitor.web import WebDeps, create_app
from tests.monitor.test_webapp_teaching import KeywordClassifier, runtime
from tests.monitor.webapp_helpers import last_link

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium)")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]

UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.name || e.id)"""
SIDEWAYS = "() => document.documentElement.scrollWidth - window.innerWidth"


class Served:
    """The real app under uvicorn in a thread, on a free port of 127.0.0.1."""

    def __init__(self, app, port: int):
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                    lifespan="off", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(5)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def site(tmp_path):
    port = free_port()
    world = make_world(tmp_path, db_url=f"sqlite:///{tmp_path}/browser.db",
                       web={"base_url": f"http://127.0.0.1:{port}"})
    with Served(create_app(WebDeps(world.sessions, world.env, world.clock)), port):
        yield world, f"http://127.0.0.1:{port}"
    world.close()


def check_page(page, width: int) -> None:
    """No unlabelled input, no sideways scrolling; a screenshot when NURSERYWATCH_SCREENSHOT_DIR is set."""
    assert page.evaluate(UNLABELLED) == [], f"unlabelled inputs on {page.url}"
    assert page.evaluate(SIDEWAYS) <= 0, f"{page.url} scrolls sideways at {width} px"
    if os.environ.get("NURSERYWATCH_SCREENSHOT_DIR"):
        name = page.url.split("/", 3)[-1].split("?")[0].replace("/", "-") or "home"
        page.screenshot(path=str(Path(os.environ["NURSERYWATCH_SCREENSHOT_DIR"]) / f"webapp-{name}-{width}.png"),
                        full_page=True)


def press(locator, key: str = "Enter") -> None:
    """Work a control from the keyboard: focus it, then press the key."""
    locator.focus()
    locator.press(key)


@pytest.mark.parametrize("width", [390, 1280])
def test_a_manager_closes_a_false_alarm_and_teaches_a_phrase_in_a_real_browser(browser, site, width):
    world, base = site
    alert_id = world.raise_alert("Smack Lane park was lovely today", [("safeguarding", "high")])
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_default_timeout(10_000)

    page.goto(f"{base}/alerts")  # no session: sent to sign in
    assert "/login" in page.url
    check_page(page, width)
    page.get_by_label("Your email address").fill("dana@acorns.example")
    page.get_by_label("Your email address").press("Enter")
    page.get_by_text("a sign-in link is on its way").wait_for()

    page.goto(base + last_link(world, "dana@acorns.example"))
    with page.expect_navigation():
        press(page.get_by_role("button", name="Sign in"))
    assert page.url.endswith("/alerts")
    check_page(page, width)

    with page.expect_navigation():
        press(page.get_by_role("link", name=f"Alert #{alert_id}: high severity"))
    page.get_by_text("Smack Lane park was lovely today").first.wait_for()
    check_page(page, width)
    press(page.get_by_label("Not a concern (a false alarm)"), "Space")
    press(page.get_by_label("Safeguarding concern"), "Space")
    with page.expect_navigation():
        press(page.get_by_role("button", name="Close the alert"))
    page.get_by_text("The alert is closed").wait_for()
    assert "Not a concern" in page.text_content("body")

    page.goto(f"{base}/phrases")
    check_page(page, width)
    page.get_by_label("Phrase", exact=True).fill("smack lane")
    page.get_by_label("Label", exact=True).select_option("safeguarding")
    press(page.get_by_label("Never flag it for this label"), "Space")
    with page.expect_navigation():
        press(page.get_by_role("button", name="Save phrase"))
    page.get_by_text("It applies from the next check").wait_for()
    snapshot = page.locator("main").aria_snapshot()
    assert 'textbox "Phrase"' in snapshot and 'combobox "Label"' in snapshot

    quiet = world.add_item("See you at Smack Lane on Saturday", classified=False)
    loud = world.add_item("Staff smack the children", classified=False)
    classify_pending(runtime(world), CycleReport())  # the next cycle, with the setting's phrases
    page.goto(f"{base}/alerts")
    body = page.text_content("main")
    assert "nobody has it yet" in body
    rows = page.locator(".row").all_text_contents()
    assert len(rows) == 1, rows  # the comment mentioning Smack Lane raised no alert; the other one did
    with world.sessions() as s:
        from sqlalchemy import select

        from monitor.core.models import Alert

        alerted = set(s.scalars(select(Alert.item_id)))
    assert loud in alerted and quiet not in alerted

    for path in ("/comments", "/roster", "/audit", f"/alerts/{alert_id}/record"):
        page.goto(base + path)
        check_page(page, width)
    page.close()
