from connectors.instagram.connector import InstagramConnector

__all__ = ["InstagramConnector"]
