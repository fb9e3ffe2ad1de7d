"""`nurserywatch run`: one cycle with --once; the daemon serves and stops on SIGTERM."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx

from monitor import cli
from tests.conftest import free_port
from tests.monitor.helpers import write_config as write_demo_config


def write_config(tmp_path, port: int) -> str:
    """The daemon's config: SQLite in tmp_path, pages on `port`, the demo page every 10 s."""
    return write_demo_config(tmp_path, f"sqlite:///{tmp_path}/nw.db", web_port=port, poll_every="10s")


def test_run_once_does_one_cycle_and_exits(tmp_path, capsys):
    assert cli.main(["run", "--once", "--config", write_config(tmp_path, free_port())]) == 0
    out = capsys.readouterr().out
    assert "cycle done: 12 fetched, 12 new, 12 classified" in out
    assert list((tmp_path / "outbox").glob("*.eml"))


def test_run_refuses_to_start_without_its_secret(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("NURSERYWATCH_SECRET_KEY")
    assert cli.main(["run", "--config", write_config(tmp_path, free_port())]) == 2
    assert "NURSERYWATCH_SECRET_KEY is not set" in capsys.readouterr().err


def test_the_daemon_polls_serves_pages_and_stops_cleanly_on_sigterm(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--config", write_config(tmp_path, port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90  # the classifier loads on first use, slowly on a busy machine
        healthy = mail = False
        while time.monotonic() < deadline and not (healthy and mail):
            try:
                healthy = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json() == {"status": "ok"}
            except httpx.HTTPError:
                pass
            mail = (tmp_path / "outbox").exists() and any((tmp_path / "outbox").glob("*.eml"))
            time.sleep(0.3)
        assert healthy and mail
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out.decode()[-2000:]


def test_the_digest_job_sends_once_a_day_after_its_local_time(tmp_path, clock):
    import asyncio
    from datetime import datetime, timezone

    from monitor.daemon import Jobs
    from monitor.runtime import build_runtime
    from monitor.core.settings import load_config

    clock.now = datetime(2026, 11, 23, 7, 29, tzinfo=timezone.utc)  # 07:29 in London (GMT)
    rt = build_runtime(load_config(write_config(tmp_path, free_port())), clock=clock)
    jobs = Jobs(rt)
    outbox = tmp_path / "outbox"

    asyncio.run(jobs.digest())
    assert not outbox.exists() or not list(outbox.glob("*.eml"))

    clock.now = datetime(2026, 11, 23, 7, 31, tzinfo=timezone.utc)
    asyncio.run(jobs.digest())
    asyncio.run(jobs.digest())  # a second tick, or a restart, the same day
    assert len(list(outbox.glob("*.eml"))) == 2  # one each for the manager and the DSL

    clock.now = datetime(2026, 11, 24, 7, 31, tzinfo=timezone.utc)
    asyncio.run(jobs.digest())
    assert len(list(outbox.glob("*.eml"))) == 4
    asyncio.run(rt.aclose())


def test_the_first_digest_waits_for_its_time_and_a_restart_after_it_catches_up(tmp_path, clock):
    import asyncio
    from datetime import datetime, timezone

    from monitor.daemon import Jobs
    from monitor.runtime import build_runtime
    from monitor.core.settings import load_config

    config = load_config(write_config(tmp_path, free_port()))
    outbox = tmp_path / "outbox"
    mails = lambda: len(list(outbox.glob("*.eml"))) if outbox.exists() else 0  # noqa: E731

    clock.now = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # installed after today's 07:30
    rt = build_runtime(config, clock=clock)
    jobs = Jobs(rt)
    asyncio.run(jobs.digest())
    assert mails() == 0  # no "all quiet" at installation

    clock.now = datetime(2026, 11, 24, 7, 31, tzinfo=timezone.utc)
    asyncio.run(jobs.digest())
    assert mails() == 2  # the first one at its configured time

    clock.now = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)  # down at 07:30, restarted at 09:00
    asyncio.run(Jobs(rt).digest())
    assert mails() == 4  # a daemon that has sent digests before catches up
    asyncio.run(rt.aclose())
