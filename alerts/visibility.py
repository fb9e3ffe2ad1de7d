"""Who may see an alert, its comment and its audit trail: the one place for the rule.

- A person an allegation names never sees it, whatever their role.
- The DSL and deputies see every safeguarding alert.
- The manager sees criticism and confidentiality.
- The owner sees everything except what names them.
- In a group: the group safeguarding lead sees safeguarding, the area manager
  criticism and confidentiality, in each setting they cover (they are one of
  its people there); a setting's own people see only their setting.
- Anyone the routing sent it to (at once, in the digest, or by escalation) sees it.
- The admin role alone grants no alert: admins see accounts and delivery.

The signed email links, the inbox, the alert pages, the audit log and its CSV
export all ask `may_see`.
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.service import (
    ALERTING_KINDS, AlertEnv, _alert_findings, choose_recipients, named_recipients, routed_roles,
)
from monitor.core.models import Alert, OutboxMessage, Recipient

ROLE_GRANTS: dict[str, frozenset[str]] = {
    "dsl": frozenset({"safeguarding"}),
    "deputy": frozenset({"safeguarding"}),
    "manager": frozenset({"criticism", "confidentiality"}),
    "owner": frozenset({"safeguarding", "criticism", "confidentiality"}),
    "group_dsl": frozenset({"safeguarding"}),
    "area_manager": frozenset({"criticism", "confidentiality"}),
}
# Roles that may read comments at all (the inbox, /comments, the roster, phrase lists).
READER_ROLES = frozenset(ROLE_GRANTS)


class Viewer:
    """One person looking, with what is needed to judge many alerts cheaply."""

    def __init__(self, session: Session, env: AlertEnv, recipient: Recipient):
        self.env = env
        self.recipient = recipient
        self.people = list(session.scalars(select(Recipient).where(Recipient.setting_id == env.setting_id)))
        self.told = set(session.scalars(
            select(OutboxMessage.alert_id).where(
                OutboxMessage.recipient_id == recipient.id, OutboxMessage.kind.in_(ALERTING_KINDS))
        )) - {None}

    @property
    def reads_comments(self) -> bool:
        return self.recipient.active and bool(READER_ROLES & set(self.recipient.roles))

    def names_me(self, text: str, categories: Iterable[str]) -> bool:
        active = [r for r in self.people if r.active]
        return self.recipient.id in named_recipients(active, text, categories)

    def may_see(self, alert: Alert) -> bool:
        me = self.recipient
        if not me.active or alert.setting_id != self.env.setting_id:
            return False
        if self.names_me(alert.item.text, alert.categories):
            return False
        if any(ROLE_GRANTS.get(role, frozenset()) & set(alert.categories) for role in me.roles):
            return True
        if alert.id in self.told:
            return True
        immediate, digest = routed_roles(self.env, alert.item.platform, _alert_findings(alert))
        routed = choose_recipients(self.people, immediate | digest, alert.item.text, alert.categories)
        return me.id in {r.id for r in routed}


def may_see(session: Session, env: AlertEnv, recipient: Recipient, alert: Alert) -> bool:
    return Viewer(session, env, recipient).may_see(alert)


def viewers_for(session: Session, envs: Iterable[AlertEnv], email: str) -> list[Viewer]:
    """A person's view of a group: one Viewer for each setting where they are one
    of its people (by address, active), in the order of `envs`. A setting where
    they are not gives them nothing, so a setting's own people see only theirs."""
    envs = list(envs)
    rows = {r.setting_id: r for r in session.scalars(select(Recipient).where(
        Recipient.email == email, Recipient.active.is_(True),
        Recipient.setting_id.in_([e.setting_id for e in envs])))}
    return [Viewer(session, env, rows[env.setting_id]) for env in envs if env.setting_id in rows]

