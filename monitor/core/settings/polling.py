"""The sections about what is watched and how: the accounts, how many are polled
at once, the daemon's polling and Meta's webhooks."""
from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator, model_validator

from monitor.core.platforms import PLATFORMS, PlatformOptions
from monitor.core.settings.values import Duration, Platform, _Section, is_local_host

class AccountConfig(_Section):
    platform: Platform
    id: str = Field(min_length=1)  # page / user / location id
    name: str | None = None
    token_env: str | None = None  # a token managed by hand; absent: `nurserywatch connect` stores one
    allow_insecure: bool = False  # plain http to a non-local api_base; needs insecure_reason
    insecure_reason: str | None = None
    api_base: str | None = None
    # OAuth: the app's credentials and a refresh token, so access tokens renew themselves
    client_id_env: str | None = None
    client_secret_env: str | None = None
    refresh_token_env: str | None = None
    token_url: str | None = None  # the platform's OAuth token endpoint, overridable like api_base
    auth_url: str | None = None  # the platform's OAuth authorisation page, for `connect`
    poll_every: Duration = 300
    request_deadline: Duration = 60  # connect, headers and body of one API request, together
    max_response_mb: int = Field(20, ge=1, le=1000)  # a larger API answer is refused
    options: PlatformOptions = Field(default_factory=dict, validate_default=True)  # monitor.core.platforms

    @field_validator("options", mode="before")
    @classmethod
    def _typed_options(cls, v: object, info: ValidationInfo) -> object:
        facts = PLATFORMS.get(info.data.get("platform", ""))
        if facts is None:
            return PlatformOptions()  # the platform's own error is enough
        if isinstance(v, facts.options):
            return v
        return facts.options.model_validate(v or {})  # its errors carry the key: accounts[0].options.<key>

    @field_validator("api_base", "token_url", "auth_url")
    @classmethod
    def _safe_api_base(cls, v: str | None, info: ValidationInfo) -> str | None:
        """https to the platform (its token, or the app's secret and refresh token, cross on each request)."""
        if v is None:
            return v
        url = urlsplit(v)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"{v!r} is not an http(s) address such as 'https://graph.facebook.com/v21.0'")
        if url.scheme == "http" and not is_local_host(url.hostname):
            if not info.data.get("allow_insecure"):
                raise ValueError(
                    "plain http to a remote host would send the access token in clear: use https, "
                    "or set allow_insecure = true and say why in insecure_reason"
                )
            if not (info.data.get("insecure_reason") or "").strip():
                raise ValueError("allow_insecure = true needs insecure_reason: say why plain http is safe here")
        return v

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, v: object) -> object:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> "AccountConfig":
        if not PLATFORMS[self.platform].needs_token:
            return self
        if self.token_env and self.refresh_token_env:
            raise ValueError("give token_env (a token you renew yourself) or refresh_token_env, not both")
        if self.refresh_token_env and not self.client_id_env:
            raise ValueError("refresh_token_env needs client_id_env (and usually client_secret_env): "
                             "a refresh token is only accepted from the app it was issued to")
        return self

    @property
    def stored_credentials(self) -> bool:
        """True when the token comes from `nurserywatch connect` (kept encrypted in the database)."""
        return PLATFORMS[self.platform].needs_token and not self.token_env and not self.refresh_token_env

    @property
    def label(self) -> str:
        return self.name or f"{self.platform}:{self.id}"


class ConcurrencyConfig(_Section):
    """How many accounts are polled at once (monitor/limits.py)."""

    total: int = Field(32, ge=1, le=1000)
    per_platform: dict[str, int] = Field(default_factory=dict, validate_default=True)  # merged over PER_PLATFORM
    default_per_platform: int = Field(8, ge=1)
    per_app: int = Field(10, ge=1)  # accounts sharing one app's rate limits

    @field_validator("per_platform", mode="after")
    @classmethod
    def _over_defaults(cls, v: dict[str, int]) -> dict[str, int]:
        if any(n < 1 for n in v.values()):
            raise ValueError("every limit must be at least 1")
        return {**PER_PLATFORM, **v}


# X's search and timeline limits are per app and small; Meta counts per app and Page
PER_PLATFORM = {"facebook": 10, "instagram": 10, "x": 2, "x_search": 1, "google": 5, "feeds": 8, "mailbox": 2}


class MetaWebhookConfig(_Section):
    """Meta (Facebook Page / Instagram) webhooks: POST /webhooks/meta.

    Once events arrive for an account, polling it slows to `reconcile_every`.
    When a reconciliation poll finds a comment no webhook announced (or, if
    `silent_after` is set, when none has come for that long), polling returns
    to the account's poll_every and the admins are told once.
    """

    app_secret_env: str = "META_APP_SECRET"  # the app secret signs every delivery (X-Hub-Signature-256)
    verify_token_env: str = "META_VERIFY_TOKEN"  # the string typed into the app dashboard's "Verify token"
    reconcile_every: Duration = 3600
    silent_after: Duration | None = None  # off by default: a quiet Page is not a broken webhook
    missed_grace: Duration = 600  # a comment older than this that only polling found was missed


class WebhooksConfig(_Section):
    meta: MetaWebhookConfig | None = None


class PollingConfig(_Section):
    """How the daemon polls (see README "A safe first run" and docs/operations)."""

    deadline: Duration = 10 * 60  # an account's poll is abandoned after this; the next resumes from its cursors
    backfill_horizon: Duration = 86400  # on a first poll (or after a longer outage) older comments are summarised
