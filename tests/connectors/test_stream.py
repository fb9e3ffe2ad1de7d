"""The shared connector base: credentials, the error ladder, paging and the platform table."""
from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from connectors import REGISTRY
from connectors.base import AuthFailed, Misconfigured, PermissionMissing, RateLimited
from connectors.google import GoogleConnector
from connectors.stream import PlatformConnector
from connectors.testing import Sleeps, drain
from monitor.core.platforms import PLATFORMS, display_name
from monitor.core.settings import AccountConfig, ConfigError, config_from_dict
from tests.connectors.helpers import account, load

LOCATION = "accounts/111/locations/222"
REVIEWS = f"https://gbp.test/v4/{LOCATION}/reviews"


class RefreshingToken:
    """Credentials that hand out a new token when asked to refresh, as OAuth would."""

    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.refreshes = 0

    async def token(self) -> str:
        return self.tokens[min(self.refreshes, len(self.tokens) - 1)]

    async def refresh(self) -> bool:
        self.refreshes += 1
        return self.refreshes < len(self.tokens)


def google(clock, credentials="g-token") -> GoogleConnector:
    return GoogleConnector(account("google", LOCATION), credentials, httpx.AsyncClient(), clock, sleep=Sleeps())


@respx.mock
def test_a_refused_token_is_refreshed_once_and_the_request_repeated_with_the_new_one(clock):
    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == "Bearer old":
            return httpx.Response(401, json=load("google", "401.json"))
        return httpx.Response(200, json=load("google", "reviews_p2.json"))

    route = respx.get(REVIEWS).mock(side_effect=answer)
    creds = RefreshingToken(["old", "new"])
    items = asyncio.run(drain(google(clock, creds), {}))
    assert items and creds.refreshes == 1
    assert [c.request.headers["authorization"] for c in route.calls] == ["Bearer old", "Bearer new"]


@respx.mock
def test_a_token_that_cannot_be_refreshed_is_reported_as_needing_reconnection(clock):
    route = respx.get(REVIEWS).mock(return_value=httpx.Response(401, json=load("google", "401.json")))
    creds = RefreshingToken(["only"])
    with pytest.raises(AuthFailed):
        asyncio.run(drain(google(clock, creds), {}))
    assert route.call_count == 1 and creds.refreshes == 1


@respx.mock
def test_a_redirect_from_the_api_is_a_configuration_error_and_is_not_retried(clock):
    route = respx.get(REVIEWS).mock(
        return_value=httpx.Response(302, headers={"location": "https://login.example.net/sso"})
    )
    with pytest.raises(Misconfigured, match="redirect to login.example.net"):
        asyncio.run(drain(google(clock), {}))
    assert route.call_count == 1


@respx.mock
@pytest.mark.parametrize("status, error", [(429, RateLimited), (401, AuthFailed), (403, PermissionMissing),
                                           (404, Misconfigured)])
def test_every_platform_shares_one_status_ladder(clock, status, error):
    respx.get(REVIEWS).mock(return_value=httpx.Response(status, json={}))
    with pytest.raises(error):
        asyncio.run(drain(google(clock), {}))


@respx.mock
def test_a_page_link_with_its_own_query_keeps_it_when_the_base_adds_parameters(clock):
    respx.get("https://gbp.test/v4/x").mock(return_value=httpx.Response(200, json={"data": []}))
    conn = google(clock)
    asyncio.run(conn.http.request("GET", "https://gbp.test/v4/x?after=abc", {"limit": 5}))
    sent = respx.calls.last.request.url.params
    assert sent["after"] == "abc" and sent["limit"] == "5"


def test_every_platform_in_the_configuration_has_a_connector_and_a_name():
    from monitor.core.settings import Platform

    assert set(Platform.__args__) == set(PLATFORMS) == set(REGISTRY)
    assert display_name("facebook") == "Facebook page" and display_name("unknown") == "unknown"
    for key, cls in REGISTRY.items():
        if isinstance(cls, type) and issubclass(cls, PlatformConnector):
            assert cls.platform == key


def test_an_unknown_option_is_refused_with_an_error_naming_it():
    data = {
        "setting": {"name": "Little Acorns"},
        "accounts": [{"platform": "facebook", "id": "1", "token_env": "T", "options": {"trailing_dayz": 30}}],
    }
    with pytest.raises(ConfigError, match=r"accounts\[0\]\.options\.trailing_dayz: unknown key"):
        config_from_dict(data)


def test_an_option_of_the_wrong_type_names_the_key_and_the_problem():
    data = {
        "setting": {"name": "Little Acorns"},
        "accounts": [{"platform": "x", "id": "1", "token_env": "T", "options": {"backfill_days": "abc"}}],
    }
    with pytest.raises(ConfigError, match=r"accounts\[0\]\.options\.backfill_days: .*integer"):
        config_from_dict(data)


def test_options_are_typed_per_platform_with_their_defaults():
    acc = AccountConfig(platform="facebook", id="1", token_env="T", options={"trailing_days": 30})
    assert acc.options.trailing_days == 30 and acc.options.posts_per_page == 25
    x = AccountConfig(platform="x", id="1", token_env="T")
    assert x.options.replies is True and x.options.backfill_days == 7


def _account(**fields) -> dict:
    return {"setting": {"name": "Little Acorns"},
            "accounts": [{"platform": "facebook", "id": "1", "token_env": "T", **fields}]}


@pytest.mark.parametrize("base", ["http://graph.facebook.com/v21.0", "http://10.0.0.5/v21.0"])
def test_plain_http_to_a_remote_api_is_refused_because_the_token_would_cross_in_clear(base):
    with pytest.raises(ConfigError, match=r"accounts\[0\]\.api_base: plain http to a remote host"):
        config_from_dict(_account(api_base=base))


def test_an_api_base_that_is_not_http_is_refused():
    with pytest.raises(ConfigError, match=r"accounts\[0\]\.api_base: 'ftp://graph.facebook.com/v21.0' is not"):
        config_from_dict(_account(api_base="ftp://graph.facebook.com/v21.0"))


def test_plain_http_is_allowed_to_this_machine_and_to_a_remote_host_only_with_a_reason():
    assert config_from_dict(_account(api_base="http://127.0.0.1:8765/v21.0")).accounts[0].api_base
    assert config_from_dict(_account(api_base="http://localhost:8765/v21.0")).accounts[0].api_base
    with pytest.raises(ConfigError, match="needs insecure_reason"):
        config_from_dict(_account(api_base="http://proxy.lan/v21.0", allow_insecure=True))
    cfg = config_from_dict(_account(api_base="http://proxy.lan/v21.0", allow_insecure=True,
                                    insecure_reason="TLS ends at the office proxy on the same switch"))
    assert cfg.accounts[0].api_base == "http://proxy.lan/v21.0"
