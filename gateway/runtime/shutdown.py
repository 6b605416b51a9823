"""Graceful shutdown of the SMTP/LMTP listener: finish the transactions in progress, then close.

``commgate serve`` stops on SIGTERM (gateway/runtime/server.py ``Server.stop``): the listening
socket
closes first, so nothing new connects; then :meth:`SessionTracker.drain` lets every session that
is inside a mail transaction (after ``MAIL FROM``, DATA included) finish it — the message is
stored and answered ``250`` before the process goes — and says goodbye to idle sessions with
``421 4.3.2`` (RFC 5321 §3.8: a server shutting down should send 421 before closing). A session
still in its transaction when ``drain_timeout`` runs out is cut off; nothing of it was
acknowledged, so the client retries (RFC 5321 §4.5.4.1) and nothing is lost.

Needed because asyncio's ``Server.wait_closed()`` does not wait for open connections before
Python 3.12.1 (cpython issue #79033), and since then waits for idle ones forever.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable

from aiosmtpd.smtp import SMTP

log = logging.getLogger(__name__)

GOODBYE = b"421 4.3.2 Service shutting down, try again later\r\n"


class SessionTracker:
    """Wraps the protocol factory given to ``loop.create_server`` and remembers each session."""

    def __init__(self, factory: Callable[[], SMTP]) -> None:
        self.factory = factory
        self.sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def __call__(self) -> SMTP:
        session = self.factory()
        self.sessions.add(session)
        return session

    def open_sessions(self) -> list[SMTP]:
        return [s for s in list(self.sessions)
                if s.transport is not None and not s.transport.is_closing()]

    async def drain(self, timeout: float, *, listener: asyncio.AbstractServer | None = None,
                    interval: float = 0.05) -> int:
        """Close ``listener``, then idle sessions at once and busy ones as each transaction
        ends; return how many were still busy when ``timeout`` ran out (and were cut off)."""
        if listener is not None:
            listener.close()  # first: nothing new connects while we drain
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        waiting_logged = False
        while True:
            busy = []
            for session in self.open_sessions():
                if in_transaction(session):
                    busy.append(session)
                else:
                    _goodbye(session)
            if not busy:
                return 0
            if loop.time() >= deadline:
                log.warning("shutdown: %d SMTP transaction(s) unfinished after %.0f s; closing "
                            "them unacknowledged (the clients will retry)", len(busy), timeout)
                for session in busy:
                    _goodbye(session)
                return len(busy)
            if not waiting_logged:
                log.info("shutdown: waiting for %d SMTP transaction(s) to finish", len(busy))
                waiting_logged = True
            await asyncio.sleep(interval)


def in_transaction(session: SMTP) -> bool:
    """Between ``MAIL FROM`` and the reply to DATA (or RSET). aiosmtpd makes a fresh envelope
    in the same step that writes the DATA reply, so "not in a transaction" means that reply is
    already in the transport's buffer, which ``close()`` flushes."""
    envelope = session.envelope
    return envelope is not None and envelope.mail_from is not None


def _goodbye(session: SMTP) -> None:
    transport = session.transport
    if transport is None or transport.is_closing():
        return
    try:
        if isinstance(transport, asyncio.WriteTransport):
            transport.write(GOODBYE)
    finally:
        transport.close()
