"""Who hears about a finding, and when: a small routing tree read from config.

In the style of Alertmanager's route tree: nodes match on category, severity
and platform; children inherit `to` and `when`; the first matching sibling
wins unless it says `continue`. The result is a set of roles, split into
"immediate" and "digest".
"""
from __future__ import annotations

from dataclasses import dataclass

from monitor.core.settings import RouteConfig, RouteMatch

DEFAULT_ROUTES: list[RouteConfig] = [
    RouteConfig(match=RouteMatch(category=["safeguarding"]), to=["dsl", "deputy"], when="immediate", continue_=True),
    RouteConfig(match=RouteMatch(category=["confidentiality"]), to=["manager"], when="immediate", continue_=True),
    RouteConfig(
        match=RouteMatch(category=["criticism"]),
        to=["manager"],
        when="digest",
        routes=[RouteConfig(match=RouteMatch(severity=["high"]), when="immediate")],
    ),
]


@dataclass(frozen=True)
class Subject:
    """What is being routed: one finding's category and severity on a platform."""

    category: str
    severity: str
    platform: str


@dataclass(frozen=True)
class Decision:
    roles: frozenset[str]
    when: str  # "immediate" | "digest"


def _matches(m: RouteMatch, s: Subject) -> bool:
    return (
        (not m.category or s.category in m.category)
        and (not m.severity or s.severity in m.severity)
        and (not m.platform or s.platform in m.platform)
    )


def _walk(routes: list[RouteConfig], s: Subject, to: list[str] | None, when: str | None) -> list[Decision]:
    out: list[Decision] = []
    for node in routes:
        if not _matches(node.match, s):
            continue
        node_to = node.to if node.to is not None else to
        node_when = node.when or when or "immediate"
        below = _walk(node.routes, s, node_to, node_when)
        if below:
            out.extend(below)
        elif node_to:
            out.append(Decision(frozenset(node_to), node_when))
        if not node.continue_:
            break
    return out


def route(routes: list[RouteConfig], subject: Subject) -> list[Decision]:
    return _walk(routes or DEFAULT_ROUTES, subject, None, None)
