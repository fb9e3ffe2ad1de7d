"""Helpers for connector tests: payloads written in the platforms' shapes, a recording transport.

The clock fixture comes from tests/conftest.py (a FakeClock starting at NOW).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import httpx

from monitor.core.settings import AccountConfig

FIXTURES = Path(__file__).with_name("fixtures")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # tests/conftest.py's clock starts here


RECORDED = FIXTURES / "recorded"  # real platform responses, personal data replaced (see SOURCES.md there)


def load(platform: str, name: str) -> dict:
    return json.loads((FIXTURES / platform / name).read_text("utf-8"))


def recorded(name: str):
    """A recorded real response, e.g. recorded("facebook/comment.json")."""
    return load("recorded", name)


class Recorder:
    """A MockTransport handler that records requests and answers from a function."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]):
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))


def account(platform: str, id: str, **options) -> AccountConfig:
    bases = {
        "facebook": "https://graph.test/v21.0",
        "instagram": "https://graph.test/v21.0",
        "x": "https://x.test/2",
        "google": "https://gbp.test/v4",
    }
    return AccountConfig(platform=platform, id=id, token_env="TOKEN", api_base=bases[platform], options=options)
