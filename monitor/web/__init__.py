"""The web surfaces: today the pages behind each alert email's links.

`pages` holds the acknowledgement, record-of-concern and hide pages; new
surfaces (a manager's inbox, webhooks) become sibling modules mounted by
`create_app`.
"""
from monitor.web.pages import WebDeps, connector_hider, create_app
from monitor.web.webhooks import MetaWebhook

__all__ = ["MetaWebhook", "WebDeps", "connector_hider", "create_app"]
