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
parents, one for their parents and two for the siblings. Only the siblings a
batch can use are read (index `ix_item_thread`): for each parent, those from
the batch's earliest to its latest comment on it, and the last few before
that (a window function), never a busy post's whole history per batch; each
comment then finds its earlier siblings by bisection. A review's "parent"
is its earlier version (an edit), not a conversation: reviews get no thread.
"""
from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, or_, select
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


# What a thread entry reads of a sibling (a Row has these as attributes, like an Item).
SIBLING = (Item.id, Item.account_id, Item.parent_external_id, Item.kind, Item.author_id, Item.author_name,
           Item.text, Item.created_at)


def _siblings(session: Session, threaded: Sequence[Item]) -> dict[Key, list]:
    """For each (account, parent) of the batch: its live children from the last
    MAX_ENTRIES before the batch's earliest comment on it up to its latest, oldest first."""
    spans: dict[Key, tuple[datetime, datetime]] = {}
    for i in threaded:
        key = (i.account_id, i.parent_external_id)
        lo, hi = spans.get(key, (i.created_at, i.created_at))
        spans[key] = (min(lo, i.created_at), max(hi, i.created_at))
    if not spans:
        return {}

    def of(key: Key, *when):
        return and_(Item.account_id == key[0], Item.parent_external_id == key[1], *when)

    live = Item.erased_at.is_(None)
    inside = select(*SIBLING).where(live, or_(*(of(k, Item.created_at >= lo, Item.created_at <= hi)
                                                 for k, (lo, hi) in spans.items())))
    rank = func.row_number().over(partition_by=(Item.account_id, Item.parent_external_id),
                                  order_by=(Item.created_at.desc(), Item.id.desc())).label("rank")
    before = select(*SIBLING, rank).where(live, or_(*(of(k, Item.created_at < lo) for k, (lo, _) in spans.items())))
    before = before.subquery()
    latest_before = select(*(before.c[c.key] for c in SIBLING)).where(before.c.rank <= MAX_ENTRIES)
    out: dict[Key, list] = defaultdict(list)
    for rows in (session.execute(latest_before), session.execute(inside)):
        for s in rows:
            out[(s.account_id, s.parent_external_id)].append(s)
    for found in out.values():
        found.sort(key=lambda s: (s.created_at, s.id))
    return out


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
    siblings = _siblings(session, threaded)
    order = {k: [(s.created_at, s.id) for s in found] for k, found in siblings.items()}
    out = []
    for i in items:
        thread: list[ThreadEntry] = []
        parent = parents.get((i.account_id, i.parent_external_id)) if _has_thread(i) else None
        if parent is not None:
            post = posts.get((parent.account_id, parent.parent_external_id)) if parent.parent_external_id else None
            head = [m for m in (post, parent) if m is not None and m.erased_at is None]
            key = (i.account_id, i.parent_external_id)
            upto = bisect_left(order.get(key, []), (i.created_at, i.id))  # the siblings before this comment
            room = MAX_ENTRIES - len(head)
            earlier = siblings[key][max(0, upto - room):upto] if room > 0 else []
            thread = [entry(m) for m in head + earlier]
        me = entry(i)
        out.append((i.text, i.platform, i.rating, tuple(thread), me.is_setting, i.author_name))
    return out
