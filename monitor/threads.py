"""Each stored comment with the thread it answers, as the classifier reads it.

The `classify` contract (classifiers/thread_input.py) takes the earlier
messages of the conversation, oldest first, the post's own text first, and
reads at most the post and the last three messages. Here they come from the
`item` table: a comment's parent is the post; a reply's parent is the comment
it answers, whose parent is the post. So the thread is the post, the parent
comment (for a reply), then the latest earlier siblings (same parent, created
before it) to fill the bound. Messages written by the setting's own account
(its id, or a post without an author id) are marked `is_setting`, as is the
comment itself when the setting wrote it, so its replies are never criticism.

Cost per batch, not per comment: nothing when no comment in the batch has a
parent or an author id; otherwise one query for the accounts, one for the
parents, one for their parents and one for the siblings. A review's "parent"
is its earlier version (an edit), not a conversation: reviews get no thread.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from classifiers.thread_input import MAX_ENTRIES
from monitor.core.models import Account, Item
from monitor.core.types import ThreadEntry

Key = tuple[int, str]  # (account id, external id)
Input = tuple  # (text, platform, rating, thread, is_setting, author): classify_batch's tuple form


def _by_key(session: Session, keys: set[Key]) -> dict[Key, Item]:
    if not keys:
        return {}
    rows = session.scalars(select(Item).where(Item.account_id.in_({a for a, _ in keys}),
                                              Item.external_id.in_({e for _, e in keys}))).all()
    return {(r.account_id, r.external_id): r for r in rows if (r.account_id, r.external_id) in keys}


def _has_thread(item: Item) -> bool:
    return bool(item.parent_external_id) and item.kind != "review"


def classifier_inputs(session: Session, items: Sequence[Item]) -> list[Input]:
    """One classify_batch input per item, with its thread from the store (see above)."""
    threaded = [i for i in items if _has_thread(i)]
    owners = dict(session.execute(select(Account.id, Account.external_id)
                                  .where(Account.id.in_({i.account_id for i in items}))).all()
                  ) if threaded or any(i.author_id for i in items) else {}

    def entry(m: Item) -> ThreadEntry:
        own = (m.author_id is not None and m.author_id == owners.get(m.account_id)) or \
              (m.kind == "post" and m.author_id is None)  # the account's own media carry no author id
        return ThreadEntry(m.text or "", m.author_name, own)

    parents = _by_key(session, {(i.account_id, i.parent_external_id) for i in threaded})
    posts = _by_key(session, {(p.account_id, p.parent_external_id) for p in parents.values() if p.parent_external_id})
    siblings: dict[Key, list[Item]] = defaultdict(list)
    if threaded:
        latest = max(i.created_at for i in threaded)
        for s in session.scalars(select(Item).where(
                Item.account_id.in_({i.account_id for i in threaded}),
                Item.parent_external_id.in_({i.parent_external_id for i in threaded}),
                Item.created_at <= latest, Item.erased_at.is_(None)).order_by(Item.created_at, Item.id)):
            siblings[(s.account_id, s.parent_external_id)].append(s)
    out = []
    for i in items:
        thread: list[ThreadEntry] = []
        parent = parents.get((i.account_id, i.parent_external_id)) if _has_thread(i) else None
        if parent is not None:
            post = posts.get((parent.account_id, parent.parent_external_id)) if parent.parent_external_id else None
            head = [m for m in (post, parent) if m is not None and m.erased_at is None]
            earlier = [s for s in siblings[(i.account_id, i.parent_external_id)]
                       if (s.created_at, s.id) < (i.created_at, i.id)]
            room = MAX_ENTRIES - len(head)
            thread = [entry(m) for m in head + (earlier[-room:] if room > 0 else [])]
        me = entry(i)
        out.append((i.text, i.platform, i.rating, tuple(thread), me.is_setting, i.author_name))
    return out
