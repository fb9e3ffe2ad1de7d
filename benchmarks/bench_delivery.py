"""Delivery throughput: N queued alert emails, one `deliver_due` run, a local SMTP server.

    python benchmarks/bench_delivery.py [--emails 10000] [--database-url URL] [--repeat 3]

Queues N copies of a real alert email (its template context taken from one
alert raised the way the pipeline raises it), starts aiosmtpd in its own
process on 127.0.0.1 (a sink that accepts and discards), and delivers with
one call of `alerts.delivery.deliver_due`: claim, render (Jinja2 + MIME),
SMTP, record, per message. Prints emails per second (target: 25 or more) and
the delivering process's peak memory (ru_maxrss; the server is another
process). SQLite in a temporary folder unless --database-url names a
PostgreSQL database (it is emptied).
"""
from __future__ import annotations

import argparse
import resource
import statistics
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, delete, insert, select, text  # noqa: E402

from alerts.channels.email.transport import SmtpTransport  # noqa: E402
from alerts.delivery import deliver_due  # noqa: E402
from alerts.testing import PEOPLE, free_port, make_world  # noqa: E402
from monitor.core.db import normalise_url  # noqa: E402
from monitor.core.models import OutboxMessage  # noqa: E402

COMMENT = ("Why was my son left crying in the garden on his own again? Miss Dana grabbed him by the arm "
           "and he has a bruise. Nobody told me at pick-up.")


def start_smtp_sink() -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
                             "-l", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("aiosmtpd did not start")


def queue(world, n: int) -> None:
    """N alert emails: one real alert's payload, copied to N rows."""
    world.raise_alert(COMMENT, [("safeguarding", "high"), ("criticism", "medium")],
                      evidence="grabbed him by the arm", reason="an adult hurting a child", author="A Parent")
    with world.sessions.begin() as s:
        template = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
        s.execute(delete(OutboxMessage))
        base = {c: getattr(template, c) for c in ("setting_id", "alert_id", "kind", "channel", "payload",
                                                  "next_attempt_at", "created_at")}
        base |= {"state": "pending", "attempts": 0}
        people = [p["email"] for p in PEOPLE]
        for start in range(0, n, 1000):
            s.execute(insert(OutboxMessage), [
                {**base, "dedup_key": f"bench:{i}", "address": people[i % len(people)]}
                for i in range(start, min(n, start + 1000))
            ])


def empty(db_url: str) -> str:
    engine = create_engine(normalise_url(db_url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return db_url


def run_once(n: int, db_url: str | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        world = make_world(Path(tmp), db_url=empty(db_url) if db_url else f"sqlite:///{tmp}/bench.db")
        try:
            queue(world, n)
            proc, port = start_smtp_sink()
            try:
                transport = SmtpTransport("127.0.0.1", port, starttls=False, timeout=30)
                t0 = time.perf_counter()
                report = deliver_due(world.sessions, transport, world.clock, from_addr="alerts@acorns.example",
                                     retry_for=86400, budget_seconds=3600)
                elapsed = time.perf_counter() - t0
            finally:
                proc.terminate()
                proc.wait()
            return {"sent": report.sent, "failed": report.failed + report.retried, "seconds": elapsed,
                    "per_second": report.sent / elapsed, "connections": transport.connections,
                    "backend": world.sessions.engine.dialect.name}
        finally:
            world.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--emails", type=int, default=10_000)
    p.add_argument("--database-url", help="an empty PostgreSQL database (default: SQLite in a temporary folder)")
    p.add_argument("--repeat", type=int, default=1)
    args = p.parse_args()
    runs = [run_once(args.emails, args.database_url) for _ in range(args.repeat)]
    for r in runs:
        print(f"{r['backend']}: {r['sent']} sent, {r['failed']} not, in {r['seconds']:.1f} s over "
              f"{r['connections']} SMTP connection(s): {r['per_second']:.0f} emails/s")
    rate = statistics.median(r["per_second"] for r in runs)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"median {rate:.0f} emails/s (target >= 25); peak memory {peak_mb:.0f} MB "
          f"(this process; the SMTP server runs in its own)")


if __name__ == "__main__":
    main()
