"""Google Business Profile reviews -> FetchedItem. Pure functions, no I/O.

An edited review is a new version: its id carries a short hash of what the
reviewer wrote, so the store keeps the first version and adds the edit, and
the classifier reads the new text. The business's reply is its own item.
"""
from __future__ import annotations

import hashlib

from connectors.fields import Unreadable, obj, text, time
from monitor.core.types import FetchedItem

STARS = {"ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5}


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:10]


def review_id(review: dict) -> str:
    rid = text(review, "reviewId") or (text(review, "name") or "").rsplit("/", 1)[-1]
    if not rid:
        raise Unreadable("reviewId", "is missing")
    return rid


def review_items(review: object, business_name: str | None = None) -> list[FetchedItem]:
    review = obj(review)
    rid = review_id(review)
    created = time(review, "createTime")
    updated = time(review, "updateTime", required=False) or created
    said = text(review, "comment") or ""
    rating = STARS.get(text(review, "starRating") or "")
    edited = updated > created
    reviewer = obj(review, "reviewer")
    link = f"https://search.google.com/local/reviews?review={rid}"
    out = [
        FetchedItem(
            external_id=f"{rid}@{_digest(rating, said)}" if edited else rid,
            kind="review",
            text=said,
            created_at=created,
            author_name=None if reviewer.get("isAnonymous") else text(reviewer, "displayName"),
            parent_external_id=rid if edited else None,
            permalink=link,
            rating=rating,
            can_hide=False,  # Google offers no way to hide a review
            updated_at=updated if edited else None,
        )
    ]
    reply = obj(review, "reviewReply")
    if text(reply, "comment"):
        out.append(
            FetchedItem(
                external_id=f"{rid}/reply@{_digest(text(reply, 'comment'))}",
                kind="reply",
                text=text(reply, "comment"),
                created_at=time(reply, "updateTime", required=False) or updated,
                author_name=business_name,
                parent_external_id=rid,
                permalink=link,
                can_hide=False,
            )
        )
    return out
