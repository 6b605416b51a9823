"""The SMTP and LMTP protocol objects: aiosmtpd's, with the gateway's limits and a faster DATA.

One instance per connection. On top of aiosmtpd this adds:

* a per-client-IP and an overall connection limit (``421 4.7.0`` and close, RFC 5321
  §4.5.3.2);
* an idle timeout that also counts DATA traffic (aiosmtpd only resets it per command, so a large
  message on a slow link would be cut off mid-transfer), and an overall deadline for DATA
  (``data_timeout``: a sender trickling a byte every few seconds is cut off with ``421``);
* a second STARTTLS inside TLS answered ``503`` (RFC 3207 §4.2), and AUTH neither advertised
  nor accepted (``502``): the gateway has no authenticator;
* the raw ``RCPT TO:`` argument kept for the handler, because aiosmtpd's parse drops source
  routes and quotes (gateway/inbound/recipients.py);
* DATA read in chunks instead of line by line (aiosmtpd issue #293: a 10 MB message otherwise
  costs ~130 000 awaits on the shared event loop and delays every other session). Data ends only
  on ``<CRLF>.<CRLF>`` (RFC 5321 §4.1.1.4); anything else — ``<LF>.<LF>``, ``<LF>.<CR><LF>`` … —
  is content (the SMTP smuggling family, CVE-2023-51766), then refused by dataguard.py;
* a fast path for the usual ``<local@domain>`` path in MAIL and RCPT. aiosmtpd parses every
  path with the email package's header parser and defines a class on each call, which is about
  half of its CPU per message; a plain dot-atom path gets the same answer from one regular
  expression, and anything else still goes to aiosmtpd's parser;
* in LMTP mode one reply per accepted recipient also when DATA is refused for its size
  (RFC 2033 §4.2), which aiosmtpd sends only once. Line length is checked with the other
  content rules in dataguard.py;
* replies held while the client's next command is already here (RFC 2920 §3.2, as Postfix's
  smtpd does): a pipelining client's ``MAIL``/``RCPT``/``DATA`` get their three replies in one
  segment instead of three, and the lines of a multi-line reply go out together. Nothing is held
  across a wait for input: a reply is held only while a complete command line is buffered, which
  the session reads next without waiting, and any other reply sends what is held with it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from aiosmtpd.smtp import SMTP, syntax

from gateway.inbound.limits import ConnectionLimiter
from gateway.inbound.recipients import REFUSED, mailbox_of_path

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
_TERMINATOR = b"\r\n.\r\n"
# RFC 5322 dot-atom-text for both halves: exactly what the email parser passes through unchanged.
_ATOMS = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_PLAIN_PATH = re.compile(rf"<(?P<addr>{_ATOMS}@{_ATOMS})>(?P<tail>.*)", re.DOTALL)


class GatewaySMTP(SMTP):
    """ESMTP (RFC 5321) with the gateway's limits; see the module docstring."""

    lmtp = False

    def __init__(self, handler: Any, *, limiter: ConnectionLimiter, max_line_length: int,
                 **kwargs: Any) -> None:
        self.limiter = limiter
        self.max_line_length = max_line_length
        self.last_rcpt_path = ""
        self._held: list[bytes] = []  # replies not yet sent (see push)
        self._counted_ip: str | None = None
        self._refused: str | None = None  # why the connection limiter refused this client
        self._peer_ip = ""
        self.data_timeout: float | None = kwargs.pop("data_timeout", None)
        # aiosmtpd sizes its command-line reader by this; our DATA reader does not use it.
        self.line_length_limit = max(1001, max_line_length + 2)
        super().__init__(handler, **kwargs)

    # --- connections --------------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        first = self._original_transport is None and not self._peer_ip
        super().connection_made(transport)
        if first:  # not the STARTTLS re-entry (RFC 3207 §4.2), which is the same client
            peer = transport.get_extra_info("peername")
            ip = str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)
            self._peer_ip = ip
            self._refused = self.limiter.acquire(ip)
            if self._refused is None:  # counted: released when the connection ends
                self._counted_ip = ip

    def connection_lost(self, error: Exception | None) -> None:
        if self._counted_ip is not None:
            self.limiter.release(self._counted_ip)
            self._counted_ip = None
        super().connection_lost(error)

    async def _handle_client(self) -> None:
        if self._refused is not None:
            log.warning("refused a connection from %s: %s", self._peer_ip, self._refused)
            await self.push(f"421 4.7.0 {self._refused.capitalize()}, try again later")
            if self.transport is not None:
                self.transport.close()
            return
        await super()._handle_client()

    # --- replies ------------------------------------------------------------------------------

    async def push(self, status: Any) -> None:
        """Send a reply, or hold it while the next command line is already buffered.

        Held: a ``250`` (MAIL, RCPT, RSET, NOOP, the end of data) followed by a buffered complete
        line, and the continuation lines of a multi-line reply (``250-``), whose last line comes
        next. Every other reply — ``354``, errors, ``221``, the greeting, a ``250`` with no
        command waiting — is sent at once with everything held before it. The session reads a
        buffered line without waiting, and every command ends in a reply, so no reply waits on
        the client (RFC 2920 §3.2: buffered replies are flushed before the server waits).
        """
        line = status.encode("utf-8" if self.enable_SMTPUTF8 else "ascii") \
            if isinstance(status, str) else status
        if line[:4] == b"250-" or (line[:3] == b"250" and b"\n" in self._reader._buffer):  # type: ignore[attr-defined]
            self._held.append(line + b"\r\n")
            return
        held, self._held = self._held, []
        held.append(line + b"\r\n")
        self._writer.write(b"".join(held))
        await self._writer.drain()

    # --- commands -----------------------------------------------------------------------------

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's path parse, with a regular-expression fast path for ``<dot-atom@dot-atom>``.

        Gives what aiosmtpd's own parse gives for those (tests/inbound/test_protocol_paths.py
        checks it against aiosmtpd with generated paths); everything else is parsed by it.
        """
        match = _PLAIN_PATH.fullmatch(arg) if arg else None
        if match is not None:
            tail = match["tail"]
            rest = tail.lstrip(" \t") if tail[:1] in (" ", "\t") else tail
            if not rest.startswith("("):  # a comment is folding white space to the email parser
                address = match["addr"]
                if self.local_part_limit and address.index("@") > self.local_part_limit:
                    return None, None
                return address, rest
        return super()._getaddr(arg)

    async def smtp_RCPT(self, arg: str | None) -> None:
        # Keep the path as sent; aiosmtpd hands the handler its own (lenient) parse only.
        stripped = self._strip_command_keyword("TO:", arg) if arg else None
        self.last_rcpt_path = stripped or ""
        ready = self.session is not None and self.session.host_name and self.envelope \
            and self.envelope.mail_from
        if ready and stripped and mailbox_of_path(stripped) is None:
            # Not a plain mailbox: refused like any unknown recipient, before aiosmtpd's
            # lenient parser can turn it into one (or answer 501/553 for some of them).
            await self.push(REFUSED)
            return
        await super().smtp_RCPT(arg)

    async def smtp_STARTTLS(self, arg: str) -> None:
        if self._tls_protocol is not None:  # RFC 3207 §4.2: not again inside TLS
            await self.push("503 5.5.1 Error: TLS already active")
            return
        await super().smtp_STARTTLS(arg)

    async def smtp_AUTH(self, arg: str) -> None:
        # No authenticator: the gateway takes mail for its own addresses only, unauthenticated
        # (RFC 4954 §4: a server that does not offer AUTH answers the command as unknown).
        await self.push("502 5.5.1 Error: AUTH not available")

    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        envelope = self.envelope
        assert envelope is not None
        if not envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        content, fault = await self._read_data()
        if content is None:
            return  # the client went away mid-DATA: nothing is stored
        if fault is not None:
            replies = [fault] * (len(envelope.rcpt_tos) if self.lmtp else 1)
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            await self.push("\r\n".join(replies))
            return
        envelope.content = content
        envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push(status)

    async def _read_data(self) -> tuple[bytes | None, str | None]:
        """Read up to ``<CRLF>.<CRLF>``; return (unstuffed content, refusal) or (None, None)."""
        limit: int | None = self.data_size_limit
        # The CRLF that ended the DATA command starts the first line (RFC 5321 §4.1.1.4), so an
        # empty message is just ".<CRLF>".
        buf = bytearray(b"\r\n")
        searched = 0
        too_much = False
        deadline = self.loop.time() + self.data_timeout if self.data_timeout else None
        while True:
            if deadline is None:
                chunk = await self._reader.read(CHUNK)
            else:
                try:
                    chunk = await asyncio.wait_for(self._reader.read(CHUNK),
                                                   max(0.0, deadline - self.loop.time()))
                except TimeoutError:
                    await self._data_too_slow()
                    return None, None
            if not chunk:
                return None, None
            self._reset_timeout()
            buf += chunk
            end = buf.find(_TERMINATOR, max(0, searched - len(_TERMINATOR) + 1))
            if end >= 0:
                break
            searched = len(buf)
            if limit and len(buf) - 2 > limit + len(_TERMINATOR):
                # Over the limit: keep reading to the end, but drop what we have (RFC 5321
                # §4.2.5: the reply comes after the data).
                too_much = True
                del buf[: len(buf) - len(_TERMINATOR)]
                searched = len(buf)
        leftover = bytes(buf[end + len(_TERMINATOR):])
        if leftover:  # the client's next command(s): give them back to the reader
            self._reader._buffer[0:0] = leftover  # type: ignore[attr-defined]
        if too_much or (limit and end > limit):
            return b"", "552 5.3.4 Message size exceeds fixed maximum message size"
        del buf[end + 2:]
        # Dot-unstuffing (RFC 5321 §4.5.2): the first "." of every line that starts with one.
        return bytes(buf).replace(b"\r\n.", b"\r\n")[2:], None


    async def _data_too_slow(self) -> None:
        """The overall DATA deadline passed (``[smtp] data_timeout``): 421 and close; nothing
        of the message is stored."""
        log.warning("closing the connection from %s: DATA took longer than %g s",
                    self._peer_ip, self.data_timeout)
        await self.push("421 4.4.2 Data transfer took too long, closing connection")
        if self.transport is not None:
            self.transport.close()


class GatewayLMTP(GatewaySMTP):
    """LMTP (RFC 2033) for delivery from Postfix or Exim: LHLO, one reply per recipient."""

    lmtp = True

    @syntax("LHLO hostname")
    async def smtp_LHLO(self, arg: str) -> None:
        """The LMTP greeting (RFC 2033 §4.1), used instead of HELO/EHLO."""
        await super().smtp_EHLO(arg)

    async def smtp_HELO(self, arg: str) -> None:
        await self.push('500 Error: command "HELO" not recognized')

    async def smtp_EHLO(self, arg: str) -> None:
        await self.push('500 Error: command "EHLO" not recognized')
