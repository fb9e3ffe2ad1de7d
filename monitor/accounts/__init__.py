"""Connecting real accounts and keeping them connected.

`vault` keeps tokens encrypted in the database; `oauth` holds each platform's
OAuth endpoints and the refresh grant; `provider` gives a connector a token
that renews itself; `connect_*` are the guided `nurserywatch connect` flows;
`check` is `nurserywatch check --online`.
"""
