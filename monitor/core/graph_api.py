"""The Graph API version nurserywatch pins, and when each version stops working.

Meta supports a version for about two years; a call to an expired version is
served by the oldest one still available, which can change answers silently.
So the version is pinned in every Graph URL, responses' `facebook-api-version`
header is compared with it (connectors.meta), and `check` and the daily digest
warn the admin WARN_BEFORE the pinned version's end of life.

Source: the Graph API changelog, "Available Graph API versions"
(https://developers.facebook.com/docs/graph-api/changelog/versions/), read
30 November 2026. Add a row when Meta announces a date; move GRAPH_VERSION
to a newer row (and run the tests) well before the date here.
"""
from __future__ import annotations

import re
from datetime import date, timedelta

GRAPH_VERSION = "v25.0"
WARN_BEFORE = timedelta(days=60)

# version -> (introduced, available until); None: not announced yet
GRAPH_VERSIONS: dict[str, tuple[date, date | None]] = {
    "v26.0": (date(2026, 7, 29), None),
    "v25.0": (date(2026, 2, 18), date(2028, 7, 29)),
    "v24.0": (date(2025, 10, 8), date(2028, 2, 18)),
    "v23.0": (date(2025, 5, 29), date(2027, 10, 8)),
    "v22.0": (date(2025, 1, 21), date(2027, 5, 20)),
    "v21.0": (date(2024, 10, 2), date(2027, 1, 21)),
    "v20.0": (date(2024, 5, 21), date(2026, 9, 24)),
}

GRAPH_ROOT = "https://graph.facebook.com"
GRAPH_BASE = f"{GRAPH_ROOT}/{GRAPH_VERSION}"

_VERSION_IN_URL = re.compile(r"/(v\d+\.\d+)(?:/|$)")


def version_in(url: str) -> str | None:
    """The version pinned in a Graph base URL (`.../v25.0`), if any."""
    m = _VERSION_IN_URL.search(url)
    return m.group(1) if m else None


def end_of_life(version: str) -> date | None:
    row = GRAPH_VERSIONS.get(version)
    return row[1] if row else None


def currency_warning(version: str | None, today: date) -> str | None:
    """A sentence for the admin when `version` is unknown, expired or within
    WARN_BEFORE of its end of life; None while it is current."""
    if version is None:
        return None
    if version not in GRAPH_VERSIONS:
        return f"Graph API {version} is not in nurserywatch's version table: its end of life is unknown"
    until = end_of_life(version)
    if until is None:
        return None
    if today >= until:
        return (f"Graph API {version} reached its end of life on {until:%d %B %Y}: Meta now answers with an older "
                "behaviour or refuses. Upgrade nurserywatch (or point api_base at a current version).")
    if today >= until - WARN_BEFORE:
        return (f"Graph API {version} reaches its end of life on {until:%d %B %Y} ({(until - today).days} days): "
                "upgrade nurserywatch before then, or Facebook and Instagram watching may stop.")
    return None
