"""Platform connectors behind one seam (connectors.base.Connector).

`build_connector` picks the platform's factory from REGISTRY. A factory gets
the account's config, its credentials (a `connectors.auth.Credentials`, or
the token itself; None for the demo), the shared httpx.AsyncClient and a
clock. The platforms' facts (names, API bases, options) are in
monitor.core.platforms; the shared constructor and loops in connectors.stream.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

import httpx

from connectors.auth import Credentials
from connectors.base import Connector
from connectors.demo import DemoConnector
from connectors.facebook import FacebookConnector
from connectors.feeds import FeedConnector
from connectors.google import GoogleConnector
from connectors.instagram import InstagramConnector
from connectors.mailbox import MailboxConnector
from connectors.x import XConnector
from connectors.x_search import XSearchConnector
from monitor.core.settings import AccountConfig

Factory = Callable[[AccountConfig, "Credentials | str | None", httpx.AsyncClient, Callable[[], datetime]], Connector]

REGISTRY: dict[str, Factory] = {
    "demo": lambda acc, token, client, clock: DemoConnector(acc, clock=clock),
    "facebook": FacebookConnector,
    "instagram": InstagramConnector,
    "x": XConnector,
    "google": GoogleConnector,
    "x_search": XSearchConnector,
    "feeds": FeedConnector,
    "mailbox": MailboxConnector,
}


def build_connector(
    account: AccountConfig,
    credentials: Credentials | str | None,
    client: httpx.AsyncClient,
    clock: Callable[[], datetime],
) -> Connector:
    try:
        factory = REGISTRY[account.platform]
    except KeyError:
        raise NotImplementedError(f"no connector for platform {account.platform!r} yet") from None
    return factory(account, credentials, client, clock)
