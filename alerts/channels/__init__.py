"""Channels: how a queued message reaches a person.

Email is built from the `[email]` section. Any other channel lives in its own
module or folder, `alerts/channels/<name>`, with a `build(config, options)`
that returns a notifier (`alerts.channels.base.Notifier`), and is switched on
by a `[channels.<name>]` section whose keys are its options; a person's
address on it is `addresses = { <name> = "..." }` in their `[[recipients]]`
entry. Nothing in delivery names a channel. `register` adds one from
elsewhere (a test, a plug-in).
"""
from __future__ import annotations

import importlib
from typing import Callable

from alerts.channels import email
from alerts.channels.base import DeliveryError, Message, Notifier
from alerts.channels.email.transport import Transport
from monitor.core.settings import Config, ConfigError

Builder = Callable[[Config, dict], Notifier]
_builders: dict[str, Builder] = {}


def register(name: str, build: Builder) -> None:
    _builders[name] = build


def unregister(name: str) -> None:
    _builders.pop(name, None)


def builder_for(name: str) -> Builder:
    if name in _builders:
        return _builders[name]
    module_name = f"{__name__}.{name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name != module_name:
            raise
        raise ConfigError(f"channels.{name}: there is no such channel (no module alerts/channels/{name})") from None
    build = getattr(module, "build", None)
    if build is None:
        raise ConfigError(f"channels.{name}: alerts/channels/{name} has no build(config, options)")
    return build


def build_notifiers(config: Config, *, email_transport: Transport | None = None) -> dict[str, Notifier]:
    """One notifier per configured channel, email first."""
    notifiers: dict[str, Notifier] = {"email": email.build(config, email_transport)}
    for name, options in config.channels.items():
        notifiers[name] = builder_for(name)(config, dict(options))
    return notifiers


def channel_problems(config: Config) -> list[str]:
    """What stops a configured channel from being built (for `check-config`)."""
    problems = []
    for name, options in config.channels.items():
        try:
            notifier = builder_for(name)(config, dict(options))
        except ConfigError as err:
            problems.append(str(err))
        else:
            notifier.close()
    return problems


__all__ = ["DeliveryError", "Message", "Notifier", "build_notifiers", "builder_for", "channel_problems", "register",
           "unregister"]
