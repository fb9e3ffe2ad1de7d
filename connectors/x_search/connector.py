"""X search: posts that name the setting without tagging it.

The X account connector reads mentions (@handle) and replies in the
setting's own conversations; people complaining about a nursery often just
type its name. This connector runs recent search (the last 7 days) for the
setting's full names, and its short aliases only beside the town, newest
first, `since_id` from the last run. Everything found is somewhere other
than the setting's own page: it cannot be hidden from here, and the alert
says how to report it instead.

Errors, limits and paging are the X connector's (429 with
`x-rate-limit-reset`, usage caps, `next_token`).

Cursor: ("search", "")  {"since_id": newest post id, "query": the query it belongs to}
A changed query (new aliases) starts again from the backfill window.
"""
from __future__ import annotations

from datetime import timedelta
from typing import AsyncIterator, Mapping

from connectors.base import Batch, CursorKey, HideRefused, Misconfigured
from connectors.x.connector import TWEET_FIELDS, XConnector
from connectors.x.parse import newest_id, users_by_id
from connectors.x_search.parse import found_item, search_query

SEARCH: CursorKey = ("search", "")


class XSearchConnector(XConnector):
    platform = "x_search"

    @property
    def query(self) -> str:
        o = self.options
        try:
            return search_query(list(o.names), list(o.aliases), o.town, o.handle)
        except ValueError as err:
            raise Misconfigured(f"x_search: {err}") from None

    async def stream(self, cursors: Mapping[CursorKey, dict]) -> AsyncIterator[Batch]:
        query = self.query
        state = cursors.get(SEARCH) or {}
        params = {"query": query, "max_results": 100, "tweet.fields": TWEET_FIELDS, "expansions": "author_id",
                  "user.fields": "username,name"}
        if state.get("since_id") and state.get("query") == query:
            params["since_id"] = state["since_id"]
        else:
            params["start_time"] = self._ago(timedelta(days=self.options.backfill_days))
        newest: list[str] = [state["since_id"]] if params.get("since_id") else []
        async for body, data in self.pages("tweets/search/recent", params, "x search", token_param="next_token"):
            users = users_by_id(body)
            items = [it for p in data if (it := found_item(p, users, self.clock())) is not None]
            newest += [i.external_id for i in items]
            if items:
                yield Batch(items=items)
        if newest:
            yield Batch(items=[], cursors={SEARCH: {"since_id": newest_id(newest), "query": query}})

    async def hide(self, external_id: str, hidden: bool = True) -> None:
        raise HideRefused("x_search: this post is not on the setting's own account; report it on X instead")
