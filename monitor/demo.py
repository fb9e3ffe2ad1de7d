"""`nurserywatch demo`: the whole service on embedded defaults.

No configuration and no accounts: a SQLite database and an outbox folder under
the data directory, a demo connector replaying bundled sample comments, and
the acknowledgement pages on 127.0.0.1. config/demo.toml holds the same
settings as a file (a test keeps the two in step).
"""
from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
from pathlib import Path

from sqlalchemy import select

from monitor.daemon import make_web_server
from monitor.core.models import Alert, OutboxMessage
from monitor.pipeline import run_cycle
from monitor.runtime import Runtime, build_runtime
from monitor.core.settings import Config, config_from_dict

SECRET_ENV = "NURSERYWATCH_SECRET_KEY"


def demo_settings(data_dir: str, port: int = 8080) -> dict:
    return {
        "setting": {
            "name": "Willowbrook Day Nursery (demo)",
            "aliases": ["Willowbrook", "WDN"],
            "town": "Hadleigh",
            "timezone": "Europe/London",
        },
        "roster": {"children": ["Amelia Hart", "Oliver Brown"], "staff": ["Sarah Jones"]},
        "database": {"url": f"sqlite:///{data_dir}/nurserywatch.db"},
        "web": {
            "listen": f"127.0.0.1:{port}",
            "base_url": f"http://127.0.0.1:{port}",
            "secret_key_env": SECRET_ENV,
        },
        "email": {"from": "nurserywatch@example.org", "outbox_dir": f"{data_dir}/outbox"},
        "recipients": [
            {"name": "Jo Manager", "email": "manager@example.org", "roles": ["manager", "admin"]},
            {"name": "Sam Lead", "email": "dsl@example.org", "roles": ["dsl"]},
        ],
        "accounts": [{"platform": "demo", "id": "demo-page", "name": "Demo page", "poll_every": "5s"}],
        "data_dir": data_dir,
    }


def demo_config(data_dir: str, port: int = 8080) -> Config:
    return config_from_dict(demo_settings(data_dir, port), "demo defaults")


def _ensure_secret(data_dir: Path) -> None:
    """Use NURSERYWATCH_SECRET_KEY if set, else a key kept in the data directory."""
    if os.environ.get(SECRET_ENV):
        return
    key_file = data_dir / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(32))
        key_file.chmod(0o600)
    os.environ[SECRET_ENV] = key_file.read_text().strip()


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def first_ack_link(rt: Runtime) -> str | None:
    with rt.sessions() as session:
        row = session.execute(
            select(Alert.id, OutboxMessage.recipient_id)
            .join(OutboxMessage, OutboxMessage.alert_id == Alert.id)
            .where(OutboxMessage.kind == "alert")
            .order_by(Alert.id, OutboxMessage.id)
            .limit(1)
        ).first()
    return rt.alert_env.signer.url("ack", row[0], row[1]) if row else None


async def _demo(rt: Runtime, interval: float, cycles: int | None) -> int:
    server = make_web_server(rt, rt.config.web.host, rt.config.web.port)
    web = asyncio.create_task(server.serve())
    outbox = Path(rt.config.email.outbox_dir).resolve()
    print(f"nurserywatch demo for {rt.config.setting.name}")
    print(f"  alert emails are written to: {outbox}/*.eml")
    print(f"  acknowledgement pages:       {rt.config.web.base_url}")
    print("  Ctrl-C stops it.\n", flush=True)
    link_shown = False
    n = 0
    try:
        while cycles is None or n < cycles:
            report = await run_cycle(rt)
            n += 1
            print(
                f"cycle {n}: {report.stored} new comment(s), {report.alerts} alert(s), {report.sent} email(s) written",
                flush=True,
            )
            if not link_shown and (link := first_ack_link(rt)):
                print(f"\nFirst alert email is in {outbox}\nOpen its acknowledgement link: {link}\n", flush=True)
                link_shown = True
            if web.done():
                break
            if cycles is None or n < cycles:
                await asyncio.sleep(interval)
    finally:
        server.should_exit = True
        await web
        await rt.aclose()
    return 0


def run_demo(data_dir: str = "data/demo", port: int = 8080, interval: float = 5.0, cycles: int | None = None) -> int:
    root = Path(data_dir)
    if not _port_free("127.0.0.1", port):
        print(f"demo: port {port} on 127.0.0.1 is in use; try: nurserywatch demo --port {port + 1}")
        return 2
    # A demo always starts from the beginning of its sample comments.
    for old in ("nurserywatch.db", "nurserywatch.db-wal", "nurserywatch.db-shm", "outbox"):
        path = root / old
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    root.mkdir(parents=True, exist_ok=True)
    _ensure_secret(root)
    rt = build_runtime(demo_config(str(root), port))
    try:
        return asyncio.run(_demo(rt, interval, cycles))
    except KeyboardInterrupt:
        return 0
