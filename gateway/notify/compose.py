"""Composing outbound mail: one ``EmailMessage`` with checked headers, text + HTML, attachments.

Every mail leaving the gateway is built here, then queued in the outbox (gateway/notify/outbox.py).
Rules kept here, whoever calls:

- every header value passes :mod:`gateway.notify.headers` first (no CR/LF/NUL: CVE-2024-6923);
- the Message-ID is ours (``@<gateway domain>``), so bounces and replies find their way back;
- ``References``/``In-Reply-To`` tie the mail to its record's thread (RFC 5322 §3.6.4);
- mail the gateway generates by itself says so: ``Auto-Submitted: auto-generated`` (RFC 3834
  §5) and ``X-Auto-Response-Suppress: All`` (Exchange/Outlook: no out-of-office replies); a notice
  a person composes is that person's mail and is not marked;
- a subject tied to a record carries its code ``[<project>#R<id>]``;
- ``multipart/alternative`` text + HTML in UTF-8, wrapped in ``multipart/mixed`` for attachments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid
from zoneinfo import ZoneInfo

from gateway.config.people import person_name
from gateway.config.settings import ProjectConfig, Settings
from gateway.errors import UnsafeHeader
from gateway.notify.headers import safe_address, safe_addresses, safe_header_value, safe_message_id

AddressLike = str | tuple[str, str]


class OutboundMessage(EmailMessage):
    """An ``EmailMessage`` that knows its project's time zone, so the outbox writes its
    ``Date:`` in the zone its readers live in (issue 21: never ``+0000`` to a Shanghai reader)."""

    zone: ZoneInfo | None = None


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content: bytes
    mimetype: str = "application/octet-stream"


def record_code(project_code: str, record_id: int) -> str:
    """The code a subject carries for a record, without brackets: ``demo#R12``."""
    return f"{project_code}#R{record_id}"


def with_record_code(subject: str, code: str | None) -> str:
    if not code:
        return subject
    tag = f"[{code}]"
    return subject if tag in subject else f"{tag} {subject}"


def named(project: ProjectConfig, item: AddressLike) -> tuple[str, str]:
    """``(name, address)``: a name given by the caller, else the one the project file gives."""
    name, addr = ("", item) if isinstance(item, str) else item
    if not name.strip() and addr.strip().lower() == project.address:
        name = project.name
    return (name.strip() or person_name(project, addr), addr)


def _one(item: AddressLike, field: str) -> Address:
    name, addr = ("", item) if isinstance(item, str) else item
    return safe_address(addr, name, field=field)


def compose(*, settings: Settings, project: ProjectConfig, sender: AddressLike,
            to: Sequence[AddressLike], cc: Sequence[AddressLike] = (), subject: str,
            text: str, html: str | None, automated: bool,
            reply_to: AddressLike | None = None, references: Iterable[str] = (),
            in_reply_to: str | None = None, record_code: str | None = None,
            attachments: Sequence[MailAttachment] = (), on_behalf_of: AddressLike | None = None,
            language: str | None = None, extra_headers: Mapping[str, str] | None = None,
            message_id: str | None = None) -> OutboundMessage:
    """Build one mail. Raises UnsafeHeader for any value that could inject a header.

    ``on_behalf_of``: a person whose notice goes out From the project address — the person is
    then the ``Sender`` (RFC 5322 §3.6.2) — for relays that may not send as the person's domain.
    The Date header is set when the mail is queued (the outbox owns the clock), in the
    project's time zone.
    """
    if not to:
        raise UnsafeHeader("To: at least one recipient is needed")
    msg = OutboundMessage()
    msg.zone = project.zone
    msg["From"] = _one(sender, "From")
    if on_behalf_of is not None:
        msg["Sender"] = _one(on_behalf_of, "Sender")
    # Every To/Cc carries the person's name (RFC 2047-encoded by the email policy when not ASCII).
    msg["To"] = safe_addresses([named(project, a) for a in to], field="To")
    if cc:
        msg["Cc"] = safe_addresses([named(project, a) for a in cc], field="Cc")
    if reply_to is not None:
        msg["Reply-To"] = _one(reply_to, "Reply-To")
    if record_code is not None:
        safe_header_value(record_code, field="record code")
    msg["Subject"] = safe_header_value(with_record_code(subject.strip(), record_code),
                                       field="Subject")
    domain = settings.gateway.domain
    msg["Message-ID"] = (safe_message_id(message_id) if message_id
                         else make_msgid(idstring="cg", domain=domain))
    refs = [safe_message_id(r, field="References") for r in references]
    if in_reply_to:
        parent = safe_message_id(in_reply_to, field="In-Reply-To")
        msg["In-Reply-To"] = parent
        if parent not in refs:
            refs.append(parent)
    if refs:
        # RFC 5322 §3.6.4: the parent's References plus the parent; keep the chain bounded.
        msg["References"] = " ".join(dict.fromkeys(refs[:1] + refs[-20:]))
    if automated:
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Commgate-Project"] = safe_header_value(project.code, field="project")
    for name, value in (extra_headers or {}).items():
        if not name.startswith("X-") or not name.replace("-", "").isalnum():
            raise UnsafeHeader(f"extra header {name!r}: only X- headers may be added")
        msg[name] = safe_header_value(value, field=name)
    msg.set_content(text, charset="utf-8")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8")
    for att in attachments:
        safe_header_value(att.filename, field="attachment filename")
        maintype, _, subtype = att.mimetype.partition("/")
        msg.add_attachment(att.content, maintype=maintype, subtype=subtype or "octet-stream",
                           filename=att.filename)
    if language:  # after the bodies: add_alternative moves Content-* headers into the part
        msg["Content-Language"] = safe_header_value(language, field="Content-Language")
    return msg
