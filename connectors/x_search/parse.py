"""The X search query for a setting's names, and found posts -> FetchedItem. Pure functions, no I/O."""
from __future__ import annotations

from dataclasses import replace

from connectors.x.parse import post_item
from monitor.core.types import FetchedItem

QUERY_MAX = 512  # recent search refuses longer queries
SOURCE = "X (a post naming the setting)"


def _quoted(term: str) -> str:
    return '"' + term.replace('"', "").strip() + '"'


def search_query(names: list[str], aliases: list[str], town: str | None, handle: str | None) -> str:
    """Posts naming the setting: a full name alone, a short alias only beside the town
    (so a namesake elsewhere is not matched); never retweets, never the setting's own
    posts or posts tagging it (the X account connector reads those)."""
    parts = [_quoted(n) for n in names if n.strip()]
    short = [_quoted(a) for a in aliases if a.strip()]
    if short:
        alias_part = short[0] if len(short) == 1 else "(" + " OR ".join(short) + ")"
        parts.append(f"({alias_part} {_quoted(town)})" if town else alias_part)
    if not parts:
        raise ValueError("no names to search for: set options.names (or [setting] name and aliases)")
    query = (parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")") + " -is:retweet"
    if handle:
        h = handle.lstrip("@")
        query += f" -from:{h} -@{h}"
    if len(query) > QUERY_MAX:
        raise ValueError(f"the search query is {len(query)} characters; X allows {QUERY_MAX}: use fewer aliases")
    return query


def found_item(post: dict, users: dict[str, dict], fallback_time) -> FetchedItem | None:
    item = post_item(post, users, "mention", fallback_time)
    return replace(item, can_hide=False, source=SOURCE) if item else None
