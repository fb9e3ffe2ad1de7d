from connectors.x_search.connector import XSearchConnector

__all__ = ["XSearchConnector"]
