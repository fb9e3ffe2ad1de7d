"""Where a connector's access token comes from.

A connector asks its `Credentials` for the token before every request, and
asks it to `refresh()` once when the platform answers "unauthorised". Today
the token is the one named by `token_env` (`StaticToken`, which cannot
refresh); an OAuth provider that refreshes itself plugs in here without any
platform knowing the difference.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Credentials(Protocol):
    async def token(self) -> str:
        """The current access token (refreshing first if it is about to expire)."""
        ...

    async def refresh(self) -> bool:
        """Get a new token after the platform refused this one. True when there is a new one to try."""
        ...


class StaticToken:
    """A token from the environment: it is what it is until a person changes it."""

    def __init__(self, token: str):
        self._token = token

    async def token(self) -> str:
        return self._token

    async def refresh(self) -> bool:
        return False

    def __repr__(self) -> str:  # never the token itself
        return "StaticToken(***)"


def as_credentials(value: "Credentials | str | None") -> Credentials:
    if isinstance(value, Credentials):
        return value
    return StaticToken(value or "")
