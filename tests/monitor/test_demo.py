"""`nurserywatch demo`: a first alert email in the outbox whose link answers."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from email import message_from_bytes, policy

import httpx

from tests.conftest import free_port


def test_the_demo_writes_an_alert_email_whose_link_answers_200(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "NURSERYWATCH_SECRET_KEY"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "demo", "--data-dir", str(tmp_path / "demo"), "--port", str(port),
         "--interval", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
    )
    try:
        outbox = tmp_path / "demo" / "outbox"
        deadline = time.monotonic() + 30  # the newcomer's promise
        link = None
        while time.monotonic() < deadline and link is None:
            for eml in sorted(outbox.glob("*.eml")) if outbox.exists() else []:
                msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
                body = msg.get_body(("plain",)).get_content()
                if m := re.search(rf"http://127\.0\.0\.1:{port}/a/\S+", body):
                    link = m.group(0)
                    break
            time.sleep(0.3)
        assert link, "no alert email with a link within 30 s"
        answer = httpx.get(link, timeout=10)
        assert answer.status_code == 200
        assert "I&rsquo;ve got this" in answer.text or "I’ve got this" in answer.text
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    text = out.decode()
    assert "alert emails are written to" in text
    assert "Open its acknowledgement link" in text
