"""Handing one outbox mail to the world: an SMTP relay, or (embedded default) a Maildir folder.

A transport returns, per envelope recipient, what the relay said; the outbox turns that into
states. RFC 5321 §4.2.1: a 4xx reply is transient (retry later), a 5xx reply is permanent.
Connection failures, timeouts and a dropped connection are transient too: a relay that is down
loses nothing. Partial refusals (some RCPT TO refused) are reported per recipient, so a retry
sends only to those still pending and nobody gets the mail twice.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import mailbox
import os
import secrets
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gateway.config.env import secret
from gateway.config.settings import Outbound, Settings
from gateway.errors import RelayUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    """What the relay said about one recipient (``code`` 250 = accepted)."""

    code: int
    text: str

    @property
    def accepted(self) -> bool:
        return 200 <= self.code < 300

    @property
    def permanent(self) -> bool:
        return 500 <= self.code < 600


class Transport(Protocol):
    def send(self, *, envelope_from: str, recipients: Sequence[str], raw: bytes,
             key: str = "") -> dict[str, Reply]:
        """``key``: what is being delivered (the outbox row), the same on every retry of it."""
        ...


class SmtpTransport:
    """Submit through the configured relay: none / STARTTLS (RFC 3207) / implicit TLS (RFC 8314)."""

    def __init__(self, cfg: Outbound, password: str | None) -> None:
        self.cfg = cfg
        self.password = password

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cfg.ca_file or None)

    def _connect(self) -> smtplib.SMTP:
        cfg = self.cfg
        client: smtplib.SMTP
        if cfg.security == "tls":
            client = smtplib.SMTP_SSL(cfg.relay_host, cfg.relay_port, timeout=cfg.timeout,
                                      context=self._context())
        else:
            client = smtplib.SMTP(cfg.relay_host, cfg.relay_port, timeout=cfg.timeout)
        client.ehlo()
        if cfg.security == "starttls":
            client.starttls(context=self._context())
            client.ehlo()
        if cfg.username:
            client.login(cfg.username, self.password or "")
        return client

    def send(self, *, envelope_from: str, recipients: Sequence[str], raw: bytes,
             key: str = "") -> dict[str, Reply]:
        # ``key`` has no SMTP counterpart: a retry after a crash between the relay's 250 and our
        # commit sends again, with the same Message-ID (see the outbox module).
        try:
            client = self._connect()
        except smtplib.SMTPAuthenticationError as exc:
            # A configuration fault, not the mail's: keep it queued and say so loudly.
            log.error("relay %s refused our credentials (%s)", self.cfg.relay_host, exc.smtp_code)
            raise RelayUnavailable(f"authentication failed: {exc.smtp_code}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise RelayUnavailable(f"cannot connect to {self.cfg.relay_host}:"
                                   f"{self.cfg.relay_port}: {type(exc).__name__}: {exc}") from None
        try:
            return self._transaction(client, envelope_from, recipients, raw)
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()

    @staticmethod
    def _transaction(client: smtplib.SMTP, envelope_from: str, recipients: Sequence[str],
                     raw: bytes) -> dict[str, Reply]:
        def everyone(code: int, text: str) -> dict[str, Reply]:
            return {r: Reply(code, text) for r in recipients}

        try:
            refused = client.sendmail(envelope_from, list(recipients), raw)
        except smtplib.SMTPRecipientsRefused as exc:
            # Every RCPT refused — or a 421 cut the list short: the rest were never tried.
            out = everyone(451, "not attempted: the relay closed the transaction")
            for addr, (code, text) in exc.recipients.items():
                out[addr] = Reply(code, _text(text))
            return out
        except smtplib.SMTPResponseException as exc:  # MAIL FROM or DATA refused
            return everyone(exc.smtp_code, _text(exc.smtp_error))
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            return everyone(451, f"connection lost: {type(exc).__name__}")
        out = everyone(250, "accepted")
        for addr, (code, text) in refused.items():
            out[addr] = Reply(code, _text(text))
        return out


class MaildirTransport:
    """The embedded default: each mail becomes a file in a Maildir (``settings.outbox_dir``).

    The envelope recipients are kept in an ``X-Commgate-Envelope-To`` line prepended to the
    stored copy, since a Maildir has no envelope. Exactly once: the file is named after what is
    delivered (the outbox row, ``key``) and to whom, written in ``tmp/`` and linked into
    ``new/`` (the Maildir protocol); a retry — the process died after the file was written and
    before the "sent" commit — finds the file (in ``new/``, or in ``cur/`` where a reader moved
    it) and does not deliver it again. Files are 0600.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, *, envelope_from: str, recipients: Sequence[str], raw: bytes,
             key: str = "") -> dict[str, Reply]:
        envelope = (f"Return-Path: <{envelope_from}>\r\n"
                    f"X-Commgate-Envelope-To: {', '.join(recipients)}\r\n").encode("ascii")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            box = mailbox.Maildir(self.path, create=True)
            if not key:
                box.add(envelope + raw)
                return {r: Reply(250, "stored in the outbox folder") for r in recipients}
            name = maildir_name(key, recipients)
            if self._delivered(name):
                log.info("outbox %s is already in %s as %s: not delivered again", key,
                         self.path, name)
                return {r: Reply(250, "already in the outbox folder") for r in recipients}
            self._write(name, envelope + raw)
        except OSError as exc:
            raise RelayUnavailable(f"cannot write to {self.path}: {exc}") from None
        return {r: Reply(250, "stored in the outbox folder") for r in recipients}

    def _delivered(self, name: str) -> bool:
        if (self.path / "new" / name).exists():
            return True
        cur = self.path / "cur"  # a reader moves a file here, adding ":2,<flags>"
        return (cur / name).exists() or any(cur.glob(f"{glob.escape(name)}:*"))

    def _write(self, name: str, data: bytes) -> None:
        tmp = self.path / "tmp" / f"{name}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):  # a racing retry wrote it: one file
                os.link(tmp, self.path / "new" / name)
        finally:
            tmp.unlink(missing_ok=True)
        folder = os.open(self.path / "new", os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)  # the name is durable before we say "sent"
        finally:
            os.close(folder)


def maildir_name(key: str, recipients: Sequence[str]) -> str:
    """``commgate-outbox-<row>-<recipients' digest>``: the same on every retry of that row to
    those recipients (a Maildir name holds no ``/`` or ``:``)."""
    digest = hashlib.sha256("\n".join(sorted(recipients)).encode()).hexdigest()[:16]
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in key)
    return f"commgate-outbox-{safe}-{digest}"


def _text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split())[:500]


def make_transport(settings: Settings) -> Transport:
    """The relay when ``outbound.relay_host`` is set, else the Maildir folder."""
    cfg = settings.gateway.outbound
    if cfg.relay_host:
        return SmtpTransport(cfg, secret(cfg.password_env) or None)
    return MaildirTransport(settings.outbox_dir)
