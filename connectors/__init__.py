"""Platform connectors behind one seam (connectors.base.Connector).

`build_connector` picks the platform's factory from REGISTRY. A factory gets
the account's config, its secret token (None for the demo), the shared
httpx.AsyncClient and a clock.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

import httpx

from connectors.base import Connector
from connectors.demo import DemoConnector
from connectors.facebook import FacebookConnector
from connectors.google import GoogleConnector
from connectors.instagram import InstagramConnector
from connectors.x import XConnector
from monitor.core.settings import AccountConfig

Factory = Callable[[AccountConfig, "str | None", httpx.AsyncClient, Callable[[], datetime]], Connector]

REGISTRY: dict[str, Factory] = {
    "demo": lambda acc, token, client, clock: DemoConnector(acc, clock=clock),
    "facebook": FacebookConnector,
    "instagram": InstagramConnector,
    "x": XConnector,
    "google": GoogleConnector,
}


def build_connector(
    account: AccountConfig,
    token: str | None,
    client: httpx.AsyncClient,
    clock: Callable[[], datetime],
) -> Connector:
    try:
        factory = REGISTRY[account.platform]
    except KeyError:
        raise NotImplementedError(f"no connector for platform {account.platform!r} yet") from None
    return factory(account, token, client, clock)
