"""The SMTP/LMTP listener's handler: which recipients, which data, and durable before ``250``.

Recipients are checked at RCPT time (gateway/inbound/recipients.py): project addresses and valid
signed reply addresses only — the gateway is never a relay — of projects that are not closed
(gateway/inbound/closed.py). At end of DATA the bytes are checked
(gateway/inbound/dataguard.py), our ``Received`` trace header is prepended (RFC 5321 §4.4) and the
result is handed, once per project, to the intake writer (gateway/inbound/writer.py: a child
process; with ``[smtp] writer = "thread"`` the group committer thread of
gateway/inbound/groupcommit.py), which writes, flushes and commits it with the other sessions'
messages, so disk flushes and the database commit never block the event loop; only then is the
message acknowledged and its processing job sent. The bytes stored are the bytes received; the
gateway never re-serialises a parsed message (CVE-2024-6923). A failure to store answers
``451 4.3.0`` so the client retries: nothing is lost and nothing is half-stored.

In LMTP mode (RFC 2033 §4.2) the answer to DATA is one reply per accepted recipient, in RCPT
order, so the MTA in front bounces or retries each recipient on its own.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import Callable
from concurrent.futures import Executor
from email.utils import format_datetime
from functools import partial
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from gateway.app import App
from gateway.errors import IntakeClosed, StoreError
from gateway.inbound.closed import ClosedProjects, closed_reply
from gateway.inbound.dataguard import data_fault
from gateway.inbound.groupcommit import GroupCommitter
from gateway.inbound.intake import Accepted, Prepared, prepare, record
from gateway.inbound.limits import ConnectionLimiter, tls_context
from gateway.inbound.protocol import GatewayLMTP, GatewaySMTP
from gateway.inbound.recipients import REFUSED, Recipient, accepted_recipient
from gateway.inbound.writer import IntakeWriter
from gateway.inbound.writer_process import WriteRequest
from gateway.observe.metrics import MESSAGES_ACCEPTED, MESSAGES_REJECTED

log = logging.getLogger(__name__)

TEMPFAIL = "451 4.3.0 Temporary failure storing the message, try again later"
# An envelope path the database could not store (invalid UTF-8, which aiosmtpd hands over as
# lone surrogates; a NUL; other control characters): refused at once, never stored (RFC 3463
# §3.2: 5.1.7 bad sender mailbox syntax, 5.1.3 bad destination mailbox syntax).
BAD_SENDER = "553 5.1.7 Sender address is not valid UTF-8 or holds control characters"
BAD_RECIPIENT = "553 5.1.3 Recipient address is not valid UTF-8 or holds control characters"
Outcome = Accepted | StoreError | IntakeClosed
# Up to this size a message is written by the writer in its batch (no thread hop of its own); a
# larger one is written and flushed by an intake thread of the listener first, outside the batch.
WRITE_IN_BATCH_MAX = 256 * 1024


class GatewayHandler:
    """aiosmtpd handler hooks; each returns the reply line(s)."""

    def __init__(self, app: App, on_stored: Callable[[int], object], *,
                 executor: Executor | None = None, committer: GroupCommitter | None = None,
                 writer: IntakeWriter | None = None, lmtp: bool = False) -> None:
        self.app = app
        self.on_stored = on_stored
        self.executor = executor
        self.committer = committer
        self.writer = writer
        self.lmtp = lmtp
        self.channel = "lmtp" if lmtp else "smtp"
        self.hostname = app.settings.gateway.smtp.hostname or socket.getfqdn()
        self.closed = ClosedProjects(app.engine)

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        """aiosmtpd's EHLO/LHLO keywords, plus PIPELINING (RFC 2920; a MUST for LMTP, RFC 2033
        §5): the listener answers pipelined commands in order and groups their replies
        (gateway/inbound/protocol.py)."""
        session.host_name = hostname
        # No authenticator exists, so AUTH is not offered (aiosmtpd lists it inside TLS).
        keywords = [r for r in responses[:-1] if not r.upper().startswith("250-AUTH")]
        return [*keywords, "250-PIPELINING", responses[-1]]

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        if not clean_envelope_text(address, *mail_options):
            log.info("MAIL from %s refused: the path is not valid UTF-8 or holds control "
                     "characters", _peer(session))
            MESSAGES_REJECTED.labels(reason="bad_address").inc()
            return BAD_SENDER
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        raw_path = getattr(server, "last_rcpt_path", "") or f"<{address}>"
        if not clean_envelope_text(raw_path, address, *rcpt_options):
            log.info("RCPT from %s refused: the path is not valid UTF-8 or holds control "
                     "characters", _peer(session))
            MESSAGES_REJECTED.labels(reason="bad_address").inc()
            return BAD_RECIPIENT
        accepted = _recipients(envelope)
        if len(accepted) >= self.app.settings.gateway.smtp.max_recipients:
            MESSAGES_REJECTED.labels(reason="too_many_recipients").inc()
            return "452 4.5.3 Too many recipients"  # RFC 5321 §4.5.3.1.10
        recipient = accepted_recipient(self.app.settings, raw_path, now=self.app.clock())
        if recipient is None:
            log.info("RCPT %r from %s refused: not a project or reply address", raw_path[:120],
                     _peer(session))
            MESSAGES_REJECTED.labels(reason="recipient").inc()
            return REFUSED
        if self.app.project_ids.get(recipient.project_code) in await self.closed.ids(
                self.executor):
            log.info("RCPT %r from %s refused: project %s is closed", raw_path[:120],
                     _peer(session), recipient.project_code)
            MESSAGES_REJECTED.labels(reason="intake_closed").inc()
            return closed_reply(recipient.project_code)
        accepted.append(recipient)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw: bytes = envelope.original_content or b""
        recipients = _recipients(envelope)
        fault = data_fault(raw, max_line_length=self.app.settings.gateway.smtp.max_line_length)
        if fault is not None:
            log.warning("message from %s refused: %s", _peer(session), fault)
            MESSAGES_REJECTED.labels(reason="data_fault").inc()
            return self._reply([fault] * len(recipients))
        stamped = self.received_header(session, recipients) + raw
        projects = {code: [r.address for r in recipients if r.project_code == code]
                    for code in dict.fromkeys(r.project_code for r in recipients)}
        results = await asyncio.gather(
            *(self._store(code, stamped, session, envelope, mine)
              for code, mine in projects.items()), return_exceptions=True)
        outcomes: dict[str, Outcome] = {}
        for code, result in zip(projects, results, strict=True):
            if isinstance(result, (StoreError, IntakeClosed)):
                # closed since RCPT: the sender is told (5xx), nothing is wrong with us
                log.log(logging.WARNING if isinstance(result, IntakeClosed) else logging.ERROR,
                        "message from %s not stored for %s: %s", _peer(session), code, result)
                MESSAGES_REJECTED.labels(
                    reason="intake_closed" if isinstance(result, IntakeClosed) else "store_failed",
                ).inc()
                outcomes[code] = result
            elif isinstance(result, BaseException):
                raise result
            else:
                outcomes[code] = result
                if isinstance(result, Accepted):
                    MESSAGES_ACCEPTED.labels(channel=self.channel).inc()
        if self.lmtp:
            return self._reply([_status(outcomes[r.project_code]) for r in recipients])
        return _summary(list(outcomes.values()))

    async def _store(self, project: str, raw: bytes, session: Session, envelope: Envelope,
                     recipients: list[str]) -> Outcome:
        """Store for one project: durable, or StoreError / IntakeClosed raised."""
        outcome: Accepted | IntakeClosed
        loop = asyncio.get_running_loop()
        if self.writer is not None:
            request = WriteRequest(
                project=project, project_id=self.app.project_ids[project], raw=raw,
                channel=self.channel, peer=_peer(session),
                envelope_from=envelope.mail_from or "", envelope_to=recipients,
                received_at=self.app.clock())
            if len(raw) > WRITE_IN_BATCH_MAX:  # written and flushed here, in an intake thread
                item = await loop.run_in_executor(self.executor, partial(
                    prepare, self.app, project=project, project_id=request.project_id,
                    raw=raw, channel=self.channel, peer=request.peer,
                    envelope_from=request.envelope_from, envelope_to=recipients,
                    received_at=request.received_at, defer_sync=False))
                outcome = await self.writer.submit(item)
            else:
                outcome = await self.writer.submit(request)
            if isinstance(outcome, IntakeClosed):
                raise outcome
            if not outcome.duplicate:
                self.on_stored(outcome.message_pk)
            return outcome
        work = partial(prepare, self.app, project=project, raw=raw, channel=self.channel,
                       peer=_peer(session), envelope_from=envelope.mail_from or "",
                       envelope_to=recipients)
        if self.committer is None:  # no group commit: write, flush and commit in a thread
            outcome = await loop.run_in_executor(
                self.executor, self._accept_alone, partial(work, defer_sync=False))
        elif len(raw) > WRITE_IN_BATCH_MAX:  # hash and write it here, not in the batch
            item = await loop.run_in_executor(self.executor, work)
            outcome = await self.committer.submit_async(item)
        else:
            outcome = await self.committer.submit_async(work)
        if isinstance(outcome, IntakeClosed):
            raise outcome
        return outcome

    def _accept_alone(self, work: Callable[[], Prepared]) -> Accepted | IntakeClosed:
        item = work()
        [outcome] = record(self.app, [item])
        if isinstance(outcome, Accepted) and not outcome.duplicate:
            self.on_stored(outcome.message_pk)
        return outcome

    def _reply(self, lines: list[str]) -> str:
        return "\r\n".join(lines if self.lmtp else lines[:1])

    def received_header(self, session: Session, recipients: list[Recipient]) -> bytes:
        """Our trace field (RFC 5321 §4.4), with the protocol type of RFC 3848."""
        helo = "".join(c for c in (session.host_name or "unknown")[:100]
                       if c.isascii() and c.isprintable() and c not in "()\\") or "unknown"
        proto = "LMTP" if self.lmtp else ("ESMTP" if session.extended_smtp else "SMTP")
        tls = ""
        if session.ssl is not None:
            proto += "S"
            cipher = session.ssl.get("cipher") if isinstance(session.ssl, dict) else None
            if cipher:
                tls = f" (using {cipher[1]} with cipher {cipher[0]})"
        when = format_datetime(self.app.clock(), usegmt=True)
        to = f"\r\n\tfor <{recipients[0].address}>" if len(recipients) == 1 else ""
        line = (f"Received: from {helo} ({_tcp_info(session)})\r\n"
                f"\tby {self.hostname} (commgate) with {proto}{tls}{to};\r\n\t{when}\r\n")
        return line.encode("ascii", "replace")


def clean_envelope_text(*values: str) -> bool:
    """True when every value is text a database stores: no lone surrogate (aiosmtpd's stand-in
    for bytes that are not UTF-8), no NUL or other C0/DEL control character."""
    return not any(_UNSTORABLE.search(value) for value in values)


_UNSTORABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def _recipients(envelope: Envelope) -> list[Recipient]:
    """The recipients accepted for this transaction, kept beside aiosmtpd's address list."""
    accepted: list[Recipient] | None = getattr(envelope, "commgate_recipients", None)
    if accepted is None:
        accepted = []
        envelope.commgate_recipients = accepted  # type: ignore[attr-defined]
    return accepted


def _status(outcome: Outcome) -> str:
    if isinstance(outcome, Accepted):
        return f"250 2.0.0 OK: stored as {outcome.message_pk}"
    if isinstance(outcome, IntakeClosed):
        return f"550 5.7.1 {outcome.message}"
    return TEMPFAIL


def _summary(outcomes: list[Outcome]) -> str:
    """One SMTP reply for all projects: retry if any failed, else 250 if any took it."""
    if any(isinstance(o, StoreError) for o in outcomes):
        return TEMPFAIL  # projects that did store note the retry as a further arrival
    stored = [o for o in outcomes if isinstance(o, Accepted)]
    if stored:
        return f"250 2.0.0 OK: stored as {','.join(str(o.message_pk) for o in stored)}"
    return _status(outcomes[0])


def _peer(session: Session) -> str:
    peer: Any = session.peer
    if isinstance(peer, tuple) and peer:
        return f"[{peer[0]}]:{peer[1]}" if len(peer) > 1 else str(peer[0])
    return str(peer or "")


def _tcp_info(session: Session) -> str:
    """``[192.0.2.1]`` or ``[IPv6:2001:db8::1]`` (RFC 5321 §4.1.3 address literals)."""
    peer: Any = session.peer
    ip = str(peer[0]) if isinstance(peer, tuple) and peer else str(peer or "unknown")
    return f"[IPv6:{ip}]" if ":" in ip else f"[{ip}]"


def make_smtp_factory(app: App, on_stored: Callable[[int], object], *,
                      executor: Executor | None = None,
                      committer: GroupCommitter | None = None,
                      writer: IntakeWriter | None = None) -> Callable[[], SMTP]:
    """A protocol factory for ``loop.create_server``: one SMTP or LMTP session per connection."""
    cfg = app.settings.gateway.smtp
    lmtp = cfg.mode == "lmtp"
    handler = GatewayHandler(app, on_stored, executor=executor, committer=committer,
                             writer=writer, lmtp=lmtp)
    limiter = ConnectionLimiter(cfg.max_connections_per_ip, cfg.max_connections)
    context = tls_context(cfg)
    protocol = GatewayLMTP if lmtp else GatewaySMTP

    def factory() -> SMTP:
        return protocol(handler, limiter=limiter, max_line_length=cfg.max_line_length,
                        data_size_limit=cfg.max_message_size, enable_SMTPUTF8=True,
                        decode_data=False, hostname=handler.hostname,
                        ident="commgate LMTP" if lmtp else "commgate ESMTP",
                        tls_context=context, require_starttls=cfg.require_starttls,
                        timeout=cfg.idle_timeout, data_timeout=cfg.data_timeout)

    return factory
