"""Listener limits that span sessions: connections per client IP and in all, descriptor
exhaustion on accept, and the STARTTLS context.

The per-message limits (size, recipients, line length) are enforced inside the session
(gateway/inbound/protocol.py and smtp.py); what lives here is shared by every session of one
listener and touched only from its event loop.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import ssl
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from gateway.config.settings import SmtpListener
from gateway.errors import ConfigError

log = logging.getLogger(__name__)


class ConnectionLimiter:
    """Counts open connections per client IP and in all; refuses one over ``per_ip`` or
    ``total`` (None: no overall cap)."""

    def __init__(self, per_ip: int, total: int | None = None) -> None:
        self.per_ip = per_ip
        self.total = total
        self.open: Counter[str] = Counter()
        self.count = 0

    def acquire(self, ip: str) -> str | None:
        """Count a new connection from ``ip``; else why not (and not counted)."""
        if self.total is not None and self.count >= self.total:
            return "too many connections"
        if self.open[ip] >= self.per_ip:
            return "too many connections from your address"
        self.open[ip] += 1
        self.count += 1
        return None

    def release(self, ip: str) -> None:
        self.count -= 1
        self.open[ip] -= 1
        if self.open[ip] <= 0:
            del self.open[ip]


class AcceptErrorLog:
    """The event loop's exception handler, quieter about descriptor exhaustion.

    When ``accept(2)`` fails with EMFILE/ENFILE (ENOBUFS, ENOMEM), asyncio logs the error with a
    traceback and retries a second later — per listening socket, for as long as it lasts (677 MB
    of log in three minutes). This logs one line per ``interval`` with how often it happened;
    everything else goes to the loop's default handler.
    """

    def __init__(self, interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._last: float | None = None
        self.suppressed = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if not (isinstance(exc, OSError) and exc.errno in _RESOURCE_ERRNOS):
            loop.default_exception_handler(context)
            return
        now = self.clock()
        if self._last is not None and now - self._last < self.interval:
            self.suppressed += 1
            return
        more = f" ({self.suppressed} more since the last report)" if self.suppressed else ""
        log.error("cannot accept connections: %s%s; new clients wait until descriptors are "
                  "free (raise `ulimit -n`, or lower [smtp] max_connections)",
                  os.strerror(exc.errno or 0), more)
        self._last, self.suppressed = now, 0


_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


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
