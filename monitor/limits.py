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
"""
from __future__ import annotations

import asyncio
from collections import defaultdict
from contextlib import asynccontextmanager
from typing import AsyncIterator

from monitor.core.settings import AccountConfig, ConcurrencyConfig


def app_of(platform: str, account: AccountConfig | None) -> str:
    return f"{platform}:{(account.client_id_env if account else None) or 'default'}"


class PollLimits:
    def __init__(self, config: ConcurrencyConfig):
        self.config = config
        self._total = asyncio.Semaphore(config.total)
        self._platforms: dict[str, asyncio.Semaphore] = {}
        self._apps: dict[str, asyncio.Semaphore] = {}
        self.busy: dict[str, int] = defaultdict(int)  # "total", "platform:x", "app:x:default" -> polls now
        self.peak: dict[str, int] = defaultdict(int)

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
