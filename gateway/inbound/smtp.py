"""The SMTP listener (aiosmtpd): accepts mail for project addresses, durably, before ``250``.

Recipients are checked at RCPT time against the configured project addresses only — the gateway
is never a relay. At end of DATA the raw bytes (with our ``Received`` trace header prepended,
RFC 5321 §4.4) are handed to :func:`gateway.inbound.intake.accept` in a worker thread, so fsync
and the database commit never block other sessions; only then do we answer ``250`` and send the
processing job. A failure to store answers ``451`` so the client retries: nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from email.utils import format_datetime
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from gateway.addresses import try_normalize
from gateway.app import App
from gateway.errors import IntakeClosed, StoreError
from gateway.inbound.intake import Accepted, accept

log = logging.getLogger(__name__)


class GatewayHandler:
    """aiosmtpd handler hooks; each returns the SMTP reply line."""

    def __init__(self, app: App, on_stored: Callable[[int], None]) -> None:
        self.app = app
        self.on_stored = on_stored
        self.hostname = app.settings.gateway.smtp.hostname or socket.getfqdn()

    def project_for(self, address: str) -> str | None:
        canonical = try_normalize(address)
        if canonical is None:
            return None
        project = self.app.settings.project_for_address(canonical)
        return project.code if project else None

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if len(envelope.rcpt_tos) >= self.app.settings.gateway.smtp.max_recipients:
            return "452 4.5.3 Too many recipients"
        if self.project_for(address) is None:
            log.info("RCPT <%s> from %s refused: not a project address", address,
                     session.peer)
            return "550 5.1.1 Recipient address rejected: no such project address"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        projects = sorted({code for rcpt in envelope.rcpt_tos
                           if (code := self.project_for(rcpt)) is not None})
        peer = _peer(session)
        stamped = self.received_header(session, envelope) + raw
        loop = asyncio.get_running_loop()
        try:
            results = [await loop.run_in_executor(None, self._store, code, stamped, peer,
                                                  envelope)
                       for code in projects]
        except IntakeClosed as exc:
            return f"550 5.7.1 {exc}"
        except StoreError as exc:
            log.error("message from %s not stored, client told to retry: %s", peer, exc)
            return "451 4.3.0 Temporary failure storing the message, try again later"
        for result in results:
            if not result.duplicate:
                self.on_stored(result.message_pk)
        ids = ",".join(str(r.message_pk) for r in results)
        return f"250 2.0.0 OK: stored as {ids}"

    def _store(self, project: str, raw: bytes, peer: str, envelope: Envelope) -> Accepted:
        return accept(self.app, project=project, raw=raw, channel="smtp", peer=peer,
                      envelope_from=envelope.mail_from or "",
                      envelope_to=list(envelope.rcpt_tos))

    def received_header(self, session: Session, envelope: Envelope) -> bytes:
        helo = (session.host_name or "unknown").replace("\r", "").replace("\n", "")[:100]
        tls = " (using TLS)" if session.ssl else ""
        when = format_datetime(self.app.clock(), usegmt=True)
        proto = "ESMTP" if session.extended_smtp else "SMTP"
        line = (f"Received: from {helo} ({_peer(session)}){tls}\r\n"
                f"\tby {self.hostname} (commgate) with {proto};\r\n\t{when}\r\n")
        return line.encode("ascii", "replace")


def _peer(session: Session) -> str:
    peer: Any = session.peer
    if isinstance(peer, tuple) and peer:
        return f"[{peer[0]}]:{peer[1]}" if len(peer) > 1 else str(peer[0])
    return str(peer or "")


def make_smtp_factory(app: App, on_stored: Callable[[int], None]) -> Callable[[], SMTP]:
    cfg = app.settings.gateway.smtp
    handler = GatewayHandler(app, on_stored)

    def factory() -> SMTP:
        return SMTP(handler, data_size_limit=cfg.max_message_size, enable_SMTPUTF8=True,
                    decode_data=False, hostname=handler.hostname, ident="commgate ESMTP")

    return factory
