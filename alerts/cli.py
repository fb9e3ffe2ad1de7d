"""`nurserywatch alerts`: alerts with their categories, who they went to, how
delivery went and who acknowledged them. It reads the database only.
(`nurserywatch digest` needs the pipeline's delivery, so the application
defines it: `monitor/cli/digest.py`.)"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from typing import TextIO

from sqlalchemy import select

from monitor.core.db import open_database
from monitor.core.models import Alert, AlertState, OutboxMessage, Recipient, Setting
from monitor.core.group import load_setting
from monitor.core.settings import Config, add_config_option


def alert_rows(config: Config, state: str | None = None) -> list[dict]:
    sessions = open_database(config.database.url)
    try:
        with sessions() as session:
            setting = session.scalar(select(Setting).where(Setting.key == config.setting.key))
            if setting is None:
                return []
            q = select(Alert).where(Alert.setting_id == setting.id).order_by(Alert.id)
            if state:
                q = q.where(Alert.state == state)
            alerts = session.scalars(q).all()
            people = {r.id: r for r in session.scalars(select(Recipient).where(Recipient.setting_id == setting.id))}
            mail: dict[int, list[OutboxMessage]] = defaultdict(list)
            for m in session.scalars(select(OutboxMessage).where(OutboxMessage.alert_id.in_([a.id for a in alerts]))
                                     .order_by(OutboxMessage.id)):
                mail[m.alert_id].append(m)
            tz = config.setting.tz
            rows = []
            for a in alerts:
                recipients: dict[str, dict] = {}
                for m in mail[a.id]:
                    if m.kind == "ack_notice":
                        continue
                    who = people.get(m.recipient_id)
                    email = who.email if who else m.address
                    entry = recipients.setdefault(email, {"name": who.name if who else None, "email": email,
                                                          "emails": []})
                    entry["emails"].append({"kind": m.kind, "channel": m.channel, "address": m.address,
                                            "state": m.state, "attempts": m.attempts, "last_error": m.last_error})
                rows.append({
                    "id": a.id,
                    "created_at": a.created_at.astimezone(tz).isoformat(),
                    "categories": list(a.categories),
                    "severity": a.severity,
                    "platform": a.item.platform,
                    "delivery": a.delivery,
                    "state": a.state,
                    "acknowledged_by": a.acknowledged_by.name if a.acknowledged_by else None,
                    "acknowledged_at": a.acknowledged_at.astimezone(tz).isoformat() if a.acknowledged_at else None,
                    "escalation_step": a.escalation_step,
                    "recipients": list(recipients.values()),
                })
            return rows
    finally:
        sessions.dispose()


def _delivery_summary(row: dict) -> str:
    if not row["recipients"]:
        return "in the digest" if row["delivery"] == "digest" else "nobody"
    parts = []
    for r in row["recipients"]:
        states = {e["state"] for e in r["emails"]}
        state = "failed" if "failed" in states else "pending" if states & {"pending", "sending"} else "sent"
        parts.append(f"{r['name'] or r['email']} ({state})")
    return ", ".join(parts)


def cmd_alerts(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    config = load_setting(args.config, args.setting)
    rows = alert_rows(config, args.state)
    if args.json:
        out.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return 0
    if not rows:
        out.write("no alerts" + (f" in state {args.state}" if args.state else "") + "\n")
        return 0
    for r in rows:
        ack = f"acknowledged by {r['acknowledged_by']} at {r['acknowledged_at'][:16].replace('T', ' ')}" \
            if r["acknowledged_by"] else r["state"] + (f", reminded {r['escalation_step']}x" if r["escalation_step"] else "")
        out.write(f"#{r['id']}  {r['created_at'][:16].replace('T', ' ')}  {'+'.join(r['categories'])} ({r['severity']}) "
                  f"on {r['platform']}\n    {ack}\n    to: {_delivery_summary(r)}\n")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("alerts", help="list alerts: categories, recipients, delivery and acknowledgement")
    add_config_option(p)
    p.add_argument("--state", choices=[s.value for s in AlertState], help="only alerts in this state")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_alerts)
