"""The web surfaces: the pages behind each alert email's links and the
manager's web app (sign-in, inbox, outcomes, teaching, roster, admin, audit).

Each surface is a sibling module with `routes(deps)`; `app.create_app` mounts
them all.
"""
from monitor.web.app import create_app
from monitor.web.pages import WebDeps, connector_hider
from monitor.web.webhooks import MetaWebhook

__all__ = ["MetaWebhook", "WebDeps", "connector_hider", "create_app"]
