"""Listener limits that span sessions: connections per client IP, and the STARTTLS context.

The per-message limits (size, recipients, line length) are enforced inside the session
(gateway/inbound/protocol.py and smtp.py); what lives here is shared by every session of one
listener and touched only from its event loop.
"""

from __future__ import annotations

import ssl
from collections import Counter

from gateway.config import SmtpListener
from gateway.errors import ConfigError


class ConnectionLimiter:
    """Counts open connections per client IP; refuses one over ``per_ip``."""

    def __init__(self, per_ip: int) -> None:
        self.per_ip = per_ip
        self.open: Counter[str] = Counter()

    def acquire(self, ip: str) -> bool:
        """Count a new connection from ``ip``; False (and not counted) when over the limit."""
        if self.open[ip] >= self.per_ip:
            return False
        self.open[ip] += 1
        return True

    def release(self, ip: str) -> None:
        self.open[ip] -= 1
        if self.open[ip] <= 0:
            del self.open[ip]


def tls_context(cfg: SmtpListener) -> ssl.SSLContext | None:
    """The server context for STARTTLS (RFC 3207), or None when no certificate is configured.

    TLS 1.2 is the floor (RFC 8996 retired 1.0 and 1.1); clients are not asked for certificates.
    """
    if not cfg.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cfg.tls_cert, cfg.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the TLS certificate or key: {exc}", file="gateway.toml",
                          key="smtp.tls_cert",
                          hint="point smtp.tls_cert/smtp.tls_key at readable PEM files") from None
    return context
