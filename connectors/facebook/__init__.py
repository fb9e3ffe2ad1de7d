from connectors.facebook.connector import FacebookConnector

__all__ = ["FacebookConnector"]
