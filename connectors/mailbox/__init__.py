from connectors.mailbox.connector import MailboxConnector

__all__ = ["MailboxConnector"]
