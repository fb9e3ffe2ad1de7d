from connectors.google.connector import GoogleConnector

__all__ = ["GoogleConnector"]
