from connectors.demo.connector import DemoConnector

__all__ = ["DemoConnector"]
