"""The building blocks of the configuration: its error, durations, host names and
email addresses, and the strict base every section shares (unknown keys are refused)."""
from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, BeforeValidator, ConfigDict

Platform = Literal["facebook", "instagram", "x", "google", "demo", "x_search", "feeds", "mailbox"]
Role = Literal["manager", "dsl", "deputy", "owner", "admin", "area_manager", "group_dsl"]  # the last two: a group's people
SeverityName = Literal["low", "medium", "high"]


class ConfigError(Exception):
    """A configuration problem, worded for the person who edits the file."""


_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def is_local_host(host: str) -> bool:
    """Loopback only: the one place a plain-http API base cannot be read on the way."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def is_host_name(host: str) -> bool:
    """A DNS name (an internationalised one in its ASCII form) or an IP address."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        pass
    try:
        ascii_name = host.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return 0 < len(ascii_name) <= 253 and all(HOST_LABEL.match(label) for label in ascii_name.split("."))


def parse_duration(value: object) -> int:
    """'90s', '5m', '2h', '1d' or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '5m'")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = int(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    else:
        raise ValueError(f"expected a duration such as '30s', '5m' or '2h', got {value!r}")
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


Duration = Annotated[int, BeforeValidator(parse_duration)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def email_address(value: str, *, local_ok: bool = False) -> str:
    """A checked, normalised address (email-validator, no DNS look-up).

    An internationalised domain is kept in its ASCII (IDNA) form; a local part
    with non-ASCII letters (`zoë@...`) is kept as it is and sent with SMTPUTF8,
    which the SMTP server must offer. `local_ok` accepts `user@localhost`.
    """
    if local_ok and re.fullmatch(r"[^@\s]+@localhost", value):
        return value
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as err:
        raise ValueError(f"{value!r} is not an email address: {err}") from None
    return checked.ascii_email or checked.normalized
