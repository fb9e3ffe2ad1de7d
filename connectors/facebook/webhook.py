"""Page webhook changes (`feed`, `mention`) -> store changes.

A `feed` change names the item (comment, post, status, photo, video, share,
reaction...) and the verb (add, edited, hide, unhide, remove). Comments and
posts that are added or edited are fetched by id with the same fields
polling reads, so both routes store the same item under the same id. If the
fetch finds the object gone (Meta code 100), the payload's own snippet is
kept: a disclosure deleted a minute later still deserves a look.
"""
from __future__ import annotations

import logging
from dataclasses import replace

from connectors.base import Misconfigured, PermissionMissing
from connectors.facebook.connector import COMMENT_FIELDS, POST_FIELDS, FacebookConnector
from connectors.facebook.parse import comment_item, post_item
from connectors.webhook import Change, MetaChange, unix_time
from monitor.core.types import FetchedItem

log = logging.getLogger(__name__)

POST_ITEMS = {"post", "status", "photo", "video", "share"}
ADD_VERBS = {"add", "edited", "edit", "update"}
REMOVE_VERBS = {"remove", "delete"}


async def resolve(connector: FacebookConnector, change: MetaChange) -> list[Change]:
    v = change.value
    item, verb = v.get("item"), v.get("verb")
    if change.field not in ("feed", "mention") or item not in POST_ITEMS | {"comment"}:
        return []  # reactions, likes, ratings...: nothing to classify
    oid = str(v.get("comment_id") if item == "comment" else v.get("post_id") or "")
    if not oid:
        return []
    if verb in REMOVE_VERBS:
        return [Change("removed", oid)]
    if verb in ("hide", "unhide"):
        return [Change("hidden" if verb == "hide" else "unhidden", oid)]
    if verb not in ADD_VERBS:
        return []
    found = await _fetch(connector, item, oid, v)
    if found is None:
        return []
    if change.field == "mention":  # the Page named in someone else's post or comment
        found = replace(found, kind="mention", can_hide=False)
    return [Change("upsert", found.external_id, found)]


async def _fetch(connector: FacebookConnector, item: str, oid: str, v: dict) -> FetchedItem | None:
    post_id = str(v.get("post_id") or "")
    try:
        if item == "comment":
            body = (await connector.http.request("GET", oid, {"fields": COMMENT_FIELDS})).body
            return connector.read(comment_item, body, post_id or oid.split("_")[0])  # None when it does not parse
        body = (await connector.http.request("GET", oid, {"fields": POST_FIELDS})).body
        return connector.read(post_item, body)
    except (Misconfigured, PermissionMissing) as err:
        log.info("facebook webhook: %s %s not readable (%s); keeping the snippet", item, oid, type(err).__name__)
        return _from_payload(item, oid, v)


def _from_payload(item: str, oid: str, v: dict) -> FetchedItem | None:
    created = unix_time(v.get("created_time"))
    if created is None or not isinstance(v.get("message"), str):
        return None
    author = v.get("from") if isinstance(v.get("from"), dict) else {}
    parent = str(v.get("parent_id") or "") or None
    post_id = str(v.get("post_id") or "") or None
    return FetchedItem(
        external_id=oid,
        kind=("reply" if parent and parent != post_id else "comment") if item == "comment" else "post",
        text=v["message"],
        created_at=created,
        author_name=author.get("name") or v.get("sender_name"),
        author_id=str(author.get("id") or v.get("sender_id") or "") or None,
        parent_external_id=parent if item == "comment" else None,
        can_hide=False,  # unknown until the platform says so
    )
