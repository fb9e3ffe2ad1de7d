"""The email channel: render at delivery, send through SMTP (or .eml files).

Configured by the `[email]` section. `build(config)` gives the notifier;
`make_transport(config)` the transport it sends through.
"""
from __future__ import annotations

import jinja2

from alerts.channels.base import DeliveryError, Message
from alerts.channels.email.render import build_email
from alerts.channels.email.transport import FileTransport, SmtpTransport, Transport
from monitor.core.settings import Config


class EmailChannel:
    name = "email"

    def __init__(self, transport: Transport, from_addr: str):
        self.transport = transport
        self.from_addr = from_addr

    def notify(self, message: Message) -> None:
        if message.raw is not None:
            self.transport.send(message.raw, self.from_addr, message.address)
            return
        try:
            email = build_email(message, self.from_addr)
        except jinja2.TemplateError as err:
            raise DeliveryError(f"template fault in {message.template!r}: {type(err).__name__}: {err.message}",
                                permanent=True) from None
        except Exception as err:  # a bad context value, a missing template: this message only
            raise DeliveryError(f"cannot render {message.template!r}: {type(err).__name__}", permanent=True) from None
        self.transport.send(email, self.from_addr, message.address)

    def close(self) -> None:
        self.transport.close()


def make_transport(config: Config) -> Transport:
    e = config.email
    if not e.smtp_host:
        return FileTransport(e.outbox_dir)
    names = [f"email.{key} ({getattr(e, key)})" for key in ("smtp_username_env", "smtp_password_env") if getattr(e, key)]
    return SmtpTransport(
        e.smtp_host,
        e.smtp_port,
        starttls=e.smtp_starttls,
        tls=e.smtp_tls,
        username=config.secret(e.smtp_username_env, "email.smtp_username_env") if e.smtp_username_env else None,
        password=config.secret(e.smtp_password_env, "email.smtp_password_env") if e.smtp_password_env else None,
        timeout=e.smtp_timeout,
        credentials_hint="check the variables named by " + " and ".join(names) if names
        else "the server wants a login: set email.smtp_username_env and email.smtp_password_env",
    )


def build(config: Config, transport: Transport | None = None) -> EmailChannel:
    return EmailChannel(transport or make_transport(config), config.email.from_)


__all__ = ["EmailChannel", "FileTransport", "SmtpTransport", "Transport", "build", "make_transport"]
