"""Google Business Profile reviews -> FetchedItem. Pure functions, no I/O.

An edited review is a new version: its id carries a short hash of what the
reviewer wrote, so the store keeps the first version and adds the edit, and
the classifier reads the new text. The business's reply is its own item.
"""
from __future__ import annotations

import hashlib

from connectors.http import parse_time
from monitor.core.types import FetchedItem

STARS = {"ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5}


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:10]


def review_id(review: dict) -> str | None:
    rid = review.get("reviewId") or (review.get("name") or "").rsplit("/", 1)[-1]
    return rid or None


def review_items(review: dict, business_name: str | None = None) -> list[FetchedItem]:
    rid = review_id(review)
    created = parse_time(review.get("createTime"))
    if rid is None or created is None:
        return []
    updated = parse_time(review.get("updateTime")) or created
    text = review.get("comment") or ""
    rating = STARS.get(review.get("starRating", ""))
    edited = updated > created
    reviewer = review.get("reviewer") or {}
    link = f"https://search.google.com/local/reviews?review={rid}"
    out = [
        FetchedItem(
            external_id=f"{rid}@{_digest(rating, text)}" if edited else rid,
            kind="review",
            text=text,
            created_at=created,
            author_name=None if reviewer.get("isAnonymous") else reviewer.get("displayName"),
            parent_external_id=rid if edited else None,
            permalink=link,
            rating=rating,
            can_hide=False,  # Google offers no way to hide a review
            updated_at=updated if edited else None,
        )
    ]
    reply = review.get("reviewReply") or {}
    if reply.get("comment"):
        out.append(
            FetchedItem(
                external_id=f"{rid}/reply@{_digest(reply['comment'])}",
                kind="reply",
                text=reply["comment"],
                created_at=parse_time(reply.get("updateTime")) or updated,
                author_name=business_name,
                parent_external_id=rid,
                permalink=link,
                can_hide=False,
            )
        )
    return out
