"""One place for each platform's facts: its name, API address, options, what can be hidden.

Connectors read the default API base and the options model; alerts and web
pages read the name shown to people; the configuration validates each
account's `options` against its platform's model, so a misspelt key is an
error that names it instead of a silently ignored setting.
"""
from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from monitor.core.graph_api import GRAPH_VERSION  # pinned in every Graph URL; api_base may override



class PlatformOptions(BaseModel):
    """Per-platform `options = { ... }` of an account. Unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FacebookOptions(PlatformOptions):
    app_secret_env: str | None = None  # the Meta app's secret: every call then carries appsecret_proof
    trailing_days: int = Field(90, ge=1, le=365)  # posts this recent are re-read for new comments
    posts_per_page: int = Field(25, ge=1, le=100)  # Graph refuses more than 100
    comments_embedded: int = Field(25, ge=1, le=100)  # newest comments fetched with each post
    comments_per_page: int = Field(100, ge=1, le=100)  # when a post's comments need more pages


class InstagramOptions(PlatformOptions):
    app_secret_env: str | None = None  # as for facebook
    ig_user_id: str | None = None  # the Instagram business account id, when `id` is something else
    trailing_days: int = Field(90, ge=1, le=365)
    tags: bool = True  # also read media other accounts tagged this one in


class XOptions(PlatformOptions):
    user_id: str | None = None  # the numeric user id, when `id` is a handle
    replies: bool = True  # also read replies in the account's own conversations
    backfill_days: int = Field(7, ge=1, le=7)  # how far back mentions are read on the first run


class GoogleOptions(PlatformOptions):
    account_id: str | None = None  # when `id` is only the location id


class XSearchOptions(PlatformOptions):
    names: list[str] = []  # searched on their own; default: [setting] name
    aliases: list[str] = []  # short names, searched only beside the town; default: [setting] aliases
    town: str | None = None  # default: [setting] town
    handle: str | None = None  # the setting's own X handle: its posts and posts tagging it are left out
    backfill_days: int = Field(7, ge=1, le=7)  # recent search reaches 7 days


class FeedOptions(PlatformOptions):
    url: str = Field(pattern=r"^https?://")  # the RSS or Atom address


class MailboxOptions(PlatformOptions):
    host: str
    port: int = Field(993, gt=0, lt=65536)
    starttls: bool = False  # false: TLS from the start (port 993); true: STARTTLS (port 143)
    username: str
    folder: str = "INBOX"
    allow: list[str] = Field(min_length=1)  # forwarding addresses, or "@domain"; mail from others is ignored
    ca_file: str | None = None  # a private CA's certificate, when the server's is not publicly trusted
    max_per_poll: int = Field(200, ge=1, le=5000)


class DemoOptions(PlatformOptions):
    per_cycle: int = Field(3, ge=1)  # sample comments replayed per cycle


@dataclass(frozen=True)
class PlatformFacts:
    key: str  # as in the configuration: platform = "facebook"
    name: str  # shown to people: "Facebook page"
    default_base: str | None  # the API's address; an account's api_base overrides it
    hideable: frozenset[str]  # item kinds the platform lets the owner hide
    options: type[PlatformOptions]
    needs_token: bool = True
    off_page: bool = False  # finds the setting named elsewhere: nothing to hide, only to report

    def can_hide(self, kind: str) -> bool:
        return kind in self.hideable


PLATFORMS: dict[str, PlatformFacts] = {
    p.key: p
    for p in (
        PlatformFacts(
            "facebook",
            "Facebook page",
            f"https://graph.facebook.com/{GRAPH_VERSION}",
            frozenset({"comment", "reply"}),  # posts by visitors cannot be hidden, only deleted
            FacebookOptions,
        ),
        PlatformFacts(
            "instagram",
            "Instagram account",
            f"https://graph.facebook.com/{GRAPH_VERSION}",
            frozenset({"comment", "reply"}),  # except the account's own comments
            InstagramOptions,
        ),
        PlatformFacts("x", "X account", "https://api.x.com/2", frozenset({"reply"}), XOptions),
        PlatformFacts("google", "Google reviews", "https://mybusiness.googleapis.com/v4", frozenset(), GoogleOptions),
        PlatformFacts("x_search", "X search for the setting's name", "https://api.x.com/2", frozenset(), XSearchOptions,
                      off_page=True),
        PlatformFacts("feeds", "watched web feed", None, frozenset(), FeedOptions, needs_token=False, off_page=True),
        PlatformFacts("mailbox", "forwarding mailbox", None, frozenset(), MailboxOptions, off_page=True),
        PlatformFacts(
            "demo", "demo page", None, frozenset({"post", "comment", "reply", "mention", "review"}), DemoOptions,
            needs_token=False,
        ),
    )
}

PLATFORM_NAMES: dict[str, str] = {key: p.name for key, p in PLATFORMS.items()}


# what a comment's attachment is, in words for a manager (Graph attachment `type`)
ATTACHMENT_WORDS = {
    "photo": "a photo",
    "sticker": "a sticker",
    "animated_image_share": "an animated GIF",
    "animated_image_autoplay": "an animated GIF",
    "animated_image_video": "an animated GIF",
    "video_inline": "a video",
    "video_share_youtube": "a video",
    "share": "a link",
}


def attachment_words(kind: str | None) -> str | None:
    """'a photo', 'a sticker'... for an attachment type; None when there is none."""
    if not kind:
        return None
    return ATTACHMENT_WORDS.get(kind, "an attachment")


def off_page(platform: str, kind: str) -> bool:
    """Not on the setting's own page (a search hit, a feed entry, forwarded mail, an @mention elsewhere)."""
    facts = PLATFORMS.get(platform)
    return bool(facts and facts.off_page) or kind == "mention"


def display_name(platform: str) -> str:
    facts = PLATFORMS.get(platform)
    return facts.name if facts else platform
