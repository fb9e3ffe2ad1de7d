from connectors.feeds.connector import FeedConnector

__all__ = ["FeedConnector"]
