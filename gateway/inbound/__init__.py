"""Inbound channels: SMTP/LMTP listener, IMAP intake and file import, all through ``intake``."""
