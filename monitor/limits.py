"""How many accounts are polled at once: in all, per platform, and per app.

Accounts are polled side by side, so one slow or failing account never holds
up another; but a nursery group's 500 Pages must not all hit the Graph API
at the same moment. A poll takes one slot of each of three limits, always in
the same order (all, platform, app), so no two polls wait on each other in a
circle:

- `total`: every poll, whatever the platform (sockets, database, memory);
- `per_platform[platform]`: e.g. X allows few requests per app and window;
- `per_app`: accounts that share one app's rate limits (Meta counts calls per
  app across its Pages; an OAuth app is named by its `client_id_env`; accounts
  with hand-made tokens share their platform's default app).

The peaks are kept, so a benchmark (or /metrics) can show no limit was passed.
`wanting` counts the polls waiting for or holding a platform's and an app's
slot, that is, still fetching: a replica leases at most twice what those
limits let it fetch at once (`QUEUED`; `monitor.daemon.Jobs.claim`).
"""
from __future__ import annotations

import asyncio
from collections import defaultdict
from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable

from monitor.core.settings import AccountConfig, ConcurrencyConfig


def app_of(platform: str, account: AccountConfig | None) -> str:
    return f"{platform}:{(account.client_id_env if account else None) or 'default'}"


QUEUED = 2  # a replica leases up to this many times its limits: half fetching, half waiting for a slot


class PollLimits:
    def __init__(self, config: ConcurrencyConfig, on_free: Callable[[], None] = lambda: None):
        self.config = config
        self.on_free = on_free  # a poll left its slots (finished fetching): the daemon leases more
        self._total = asyncio.Semaphore(config.total)
        self._platforms: dict[str, asyncio.Semaphore] = {}
        self._apps: dict[str, asyncio.Semaphore] = {}
        self.busy: dict[str, int] = defaultdict(int)  # "total", "platform:x", "app:x:default" -> polls now
        self.peak: dict[str, int] = defaultdict(int)
        self.wanting: dict[str, int] = defaultdict(int)  # "platform:x", "app:x:default" -> polls fetching or queued

    def platform_limit(self, platform: str) -> int:
        return self.config.per_platform.get(platform, self.config.default_per_platform)

    def _sem(self, table: dict[str, asyncio.Semaphore], key: str, limit: int) -> asyncio.Semaphore:
        if key not in table:
            table[key] = asyncio.Semaphore(limit)
        return table[key]

    @asynccontextmanager
    async def slot(self, platform: str, account: AccountConfig | None = None) -> AsyncIterator[None]:
        app = app_of(platform, account)
        keys = ("total", f"platform:{platform}", f"app:{app}")
        for k in keys[1:]:
            self.wanting[k] += 1  # before the first wait: a poll is counted from its first step
        try:
            async with self._total, self._sem(self._platforms, platform, self.platform_limit(platform)), \
                    self._sem(self._apps, app, self.config.per_app):
                for k in keys:
                    self.busy[k] += 1
                    self.peak[k] = max(self.peak[k], self.busy[k])
                try:
                    yield
                finally:
                    for k in keys:
                        self.busy[k] -= 1
        finally:
            for k in keys[1:]:
                self.wanting[k] -= 1
            self.on_free()

    def room(self, platform: str, app: str, starting: tuple[int, int] = (0, 0)) -> int:
        """How many more polls of `platform` through `app` may be started: twice their limits
        (a slot's worth fetching and a slot's worth queued, so a slot that frees starts the
        next poll at once) less the polls fetching or queued for a slot (not those classifying
        or delivering), and less `starting` (polls of that platform and app created, not yet run)."""
        return min(QUEUED * self.platform_limit(platform) - self.wanting[f"platform:{platform}"] - starting[0],
                   QUEUED * self.config.per_app - self.wanting[f"app:{app}"] - starting[1])
