"""The webhook channel: one JSON POST per message, for a Teams, Slack or
similar incoming webhook (their common shape, `{"text": ...}`).

Switched on by a `[channels.webhook]` section (options: `timeout`). A
person's address on it is the NAME of the environment variable that holds the
webhook URL (`addresses = { webhook = "NW_TEAMS_DSL" }`): such URLs are
secrets, so they stay out of the configuration file and the database.

A shared chat is not a private inbox, so the message carries only fixed
words and the link: the email subject as the title (no names, no comment
text) and the "I've got this" link when there is one. The URL must be https
unless it points at this machine.
"""
from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from alerts.channels.base import DeliveryError, Message
from alerts.channels.email.render import subject
from monitor.core.settings import Config, ConfigError, Duration

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class WebhookOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    timeout: Duration = 10


class WebhookChannel:
    name = "webhook"

    def __init__(self, options: WebhookOptions, client: httpx.Client | None = None):
        self.options = options
        self.client = client or httpx.Client(timeout=options.timeout, follow_redirects=False)

    def _url(self, address: str) -> str:
        url = os.environ.get(address, "")
        if not url:
            raise DeliveryError(f"environment variable {address} (a webhook address) is not set", permanent=True)
        parts = urlsplit(url)
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOCAL_HOSTS):
            raise DeliveryError(f"the webhook URL in {address} must start with https://", permanent=True)
        return url

    def notify(self, message: Message) -> None:
        url = self._url(message.address)
        try:
            title = subject(message.template, message.context)
        except Exception as err:  # a template fault is this message's
            raise DeliveryError(f"cannot render {message.template!r}: {type(err).__name__}", permanent=True) from None
        link = message.context.get("ack_url") or message.context.get("url")
        body = {"text": f"{title}\n{link}" if link else title,
                "nurserywatch": {"kind": message.kind, "title": title, "link": link, "id": message.id}}
        try:
            response = self.client.post(url, json=body)
        except httpx.HTTPError as err:
            raise DeliveryError(f"cannot reach the webhook in {message.address}: {type(err).__name__}",
                                permanent=False) from None
        code = response.status_code
        if code < 300:
            return
        temporary = code >= 500 or code in (408, 429)
        raise DeliveryError(f"the webhook in {message.address} answered HTTP {code}", permanent=not temporary)

    def close(self) -> None:
        pass  # the client lives as long as the channel: one connection pool across runs


def build(config: Config, options: dict) -> WebhookChannel:
    try:
        checked = WebhookOptions.model_validate(options)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"channels.webhook.{key}: {first['msg']}") from None
    for i, r in enumerate(config.recipients):
        address = r.addresses.get("webhook")
        if address is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", address):
            raise ConfigError(f"recipients[{i}].addresses.webhook: give the NAME of the environment variable "
                              "that holds the webhook URL, not the URL")
    return WebhookChannel(checked)
