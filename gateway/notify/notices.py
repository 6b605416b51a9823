"""Templated notices: validate the fields, render per recipient language, queue, and record.

    fields ─▶ kinds.validate ─▶ render (zh-CN / en per recipient) ─▶ compose ─▶ outbox.queue
                                                                   └─▶ intake.accept + pipeline
                                                                       (the notice's own record)

A notice a person sends (change, incident, directive, minutes, work contact) is that person's
mail: From them, not marked automatic, with the project address in Cc so replies reach the
gateway. Its copy enters the normal pipeline (channel ``notice``), which makes the record and —
once the receipts stage runs — its receipts. ``record_cc`` is gateway mail (policy 4.4): a
record's summary to all relevant stakeholders, From the project address, marked automatic.
Recipients reading different languages get one mail per language; later copies reference the
first, so every reply threads to the same record.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.addresses import normalize_address
from gateway.config.people import configured_name, try_parse_mailbox
from gateway.config.settings import ProjectConfig, Settings
from gateway.errors import NoticeInvalid
from gateway.notify.compose import compose, record_code
from gateway.notify.kinds import KINDS, NoticeKind, validate
from gateway.notify.outbox import queue
from gateway.notify.render import Rendered, environment, render
from gateway.notify.system import by_language
from gateway.notify.tokens import make_reply_address
from gateway.store.db import unit_of_work
from gateway.store.models import Message, Receipt
from gateway.store.notify_models import OutboxMail

if TYPE_CHECKING:
    from gateway.app import App

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """A rendered notice, ready to queue: one (message, envelope recipients) per language."""

    kind: NoticeKind
    fields: dict[str, Any]
    author: str
    mails: list[tuple[EmailMessage, list[str]]] = field(default_factory=list)
    rendered: list[Rendered] = field(default_factory=list)
    record_id: int | None = None


def _person(project: ProjectConfig, who: str) -> tuple[str, str] | None:
    """``(name, address)`` of a member, stakeholder or interface person, by address or name."""
    people = [(m.name, m.email) for m in project.members]
    people += [(s.name, s.email) for s in project.stakeholders]
    people += [(d.interface.name, d.interface.email) for d in project.departments]
    wanted = who.strip().lower()
    return next(((n, e) for n, e in people if wanted in (e, n.lower())), None)


def _mailbox(project: ProjectConfig, given: str, names: dict[str, str]) -> str:
    """A ``--to``/``--cc`` value — an address, ``Name <address>`` or a configured person's name —
    as an address; a display name typed for a stranger is kept in ``names`` for the header."""
    found = _person(project, given)
    if found is not None:
        return found[1]
    parsed = try_parse_mailbox(given)
    if parsed is None:
        return given.strip().lower()  # refused, naming it, when the mail is composed
    name, address = parsed
    if name and not configured_name(project, address):
        names.setdefault(address, name)
    return address


def _recipients(project: ProjectConfig, kind: str, fields: dict[str, Any],
                to: Sequence[str], names: dict[str, str] | None = None) -> list[str]:
    given = {} if names is None else names
    out = [_mailbox(project, a, given) for a in to]
    if kind == "work_contact":
        dept = next((d for d in project.departments if d.name == fields["department"]), None)
        if dept is None:
            known = ", ".join(d.name for d in project.departments) or "none"
            raise NoticeInvalid(f"work_contact: no department {fields['department']!r}",
                                hint=f"departments of {project.code}: {known}")
        fields["interface_name"] = dept.interface.name
        out.insert(0, dept.interface.email)
    if kind == "minutes":  # action items open receipts for their owners: they must be recipients
        for item in fields["action_items"]:
            owner = _person(project, item["owner"])
            if owner is not None:
                out.append(owner[1])
    return list(dict.fromkeys(a for a in out if a and a != project.address))


def default_sender(project: ProjectConfig) -> tuple[str, str]:
    """``(name, address)`` of the member a notice is from when ``--from`` is not given: the
    project manager (policy 1.4: the PM owns the project's communication)."""
    pm = project.members_with("project_manager")[0]  # config validation requires one
    return pm.name, pm.email


def prepare(settings: Settings, project: ProjectConfig, *, kind: str, sender: str,
            to: Sequence[str], cc: Sequence[str] = (), values: Mapping[str, Any],
            record: Mapping[str, Any] | None = None, record_id: int | None = None,
            references: Sequence[str] = (), language: str | None = None) -> Prepared:
    """Validate and render; raise NoticeInvalid naming what is wrong. Nothing is stored."""
    spec = KINDS.get(kind)
    fields = validate(kind, values)
    assert spec is not None  # validate() refuses unknown kinds
    member = None
    if spec.automated:
        author: tuple[str, str] = (project.name, project.address)
    else:
        parsed = try_parse_mailbox(sender)  # "张伟 <zhangwei@…>" as well as the bare address
        try:
            member = project.member(parsed[1] if parsed else sender)
        except ValueError:  # not an address at all (CR/LF, lists…): refused like a stranger
            member = None
        if member is None:
            raise NoticeInvalid(f"--from {sender}: not a member of project {project.code}",
                                hint="a notice is the mail of a project member: "
                                     + ", ".join(f"{m.name} <{m.email}>"
                                                 for m in project.members))
        author = (member.name, member.email)
    names: dict[str, str] = {}  # display names typed with --to/--cc for unconfigured people
    to_addrs = _recipients(project, kind, fields, to, names)
    if not to_addrs:
        raise NoticeInvalid(f"{kind}: no recipient", hint="give --to ADDRESS")
    cc_addrs = [a for a in _recipients(project, "", {}, cc, names) if a not in to_addrs]

    def boxes(addresses: Sequence[str]) -> list[tuple[str, str]]:
        return [(names.get(a, ""), a) for a in addresses]

    prepared = Prepared(kind=spec, fields=fields, author=author[1], record_id=record_id)
    code = record_code(project.code, record_id) if record_id is not None else None
    signature = None if spec.automated or member is None else {
        "name": member.name, "title": member.title, "phone": member.phone,
        "email": member.email, "project": project.name}
    context = {**fields, "rec": record or {}, "sender_name": author[0], "signature": signature}
    groups = {language: [*to_addrs]} if language else by_language(project, to_addrs)
    cc_groups = {language: [*cc_addrs]} if language else by_language(project, cc_addrs)
    first_id: str | None = None
    for lang, group in groups.items():
        rendered = _signed(render("notices", kind, language=lang, project=project,
                                  context=context), project, context)
        group_cc = cc_groups.pop(lang, [])
        refs = [*references, *([first_id] if first_id else [])]
        message = compose(
            settings=settings, project=project, sender=author, to=boxes(group),
            cc=boxes([*group_cc, *([] if spec.automated else [project.address])]),
            subject=rendered.subject, text=rendered.text, html=rendered.html,
            automated=spec.automated, references=refs, in_reply_to=refs[-1] if refs else None,
            record_code=code, language=lang, extra_headers={"X-Commgate-Notice": kind})
        first_id = first_id or str(message["Message-ID"])
        prepared.mails.append((message, [*group, *group_cc]))
        prepared.rendered.append(rendered)
    for lang, group in cc_groups.items():  # Cc readers of a language nobody is To in
        rendered = _signed(render("notices", kind, language=lang, project=project,
                                  context=context), project, context)
        message = compose(
            settings=settings, project=project, sender=author, to=boxes(group),
            cc=[] if spec.automated else [project.address], subject=rendered.subject,
            text=rendered.text, html=rendered.html, automated=spec.automated,
            references=[*references, *([first_id] if first_id else [])], in_reply_to=first_id,
            record_code=code, language=lang, extra_headers={"X-Commgate-Notice": kind})
        prepared.mails.append((message, group))
        prepared.rendered.append(rendered)
    return prepared


def _signed(rendered: Rendered, project: ProjectConfig, context: Mapping[str, Any]) -> Rendered:
    """The text body with the sender's signature block (name, title, phone: the project file);
    the HTML layout draws the same block from ``signature`` itself."""
    if not context.get("signature"):
        return rendered
    suffix = "" if rendered.language == "zh-CN" else ".en"
    block = environment().get_template(f"notices/_signature{suffix}.txt").render(
        {"signature": context["signature"], "lang": rendered.language, "project": project})
    return replace(rendered, text=rendered.text.rstrip("\n") + "\n\n" + block.strip("\n")
                   + "\n")


def send(app: App, prepared: Prepared, *, project: ProjectConfig, now: datetime) -> list[int]:
    """Queue every mail of ``prepared``; return the outbox ids.

    A notice a person sends is recorded first: a copy goes through the pipeline, which opens its
    record and receipts. Then each recipient who owes a receipt gets a copy whose Reply-To is
    that receipt's signed reply address (policy 4.3: the reply counts even when a client strips
    the threading headers); everyone else gets the plain notice. Automated notices are only
    queued.
    """
    ids: list[int] = []
    for message, recipients in prepared.mails:
        if prepared.kind.automated:
            with unit_of_work(app.sessions) as session:
                ids.append(_queue(session, app.project_ids[project.code], prepared, message,
                                  recipients, now=now).id)
            continue
        ids.extend(_send_personal(app, prepared, message, recipients, project=project, now=now))
    return ids


def _queue(session: Session, project_id: int, prepared: Prepared, message: EmailMessage,
           recipients: Sequence[str], *, now: datetime, key_suffix: str = "",
           record_id: int | None = None, receipt_id: int | None = None) -> OutboxMail:
    return queue(session, project_id=project_id, kind=prepared.kind.name,
                 idempotency_key=f"notice:{message['Message-ID']}{key_suffix}",
                 message=message, recipients=recipients,
                 record_id=record_id or prepared.record_id, receipt_id=receipt_id, now=now,
                 author=prepared.author)


def _send_personal(app: App, prepared: Prepared, message: EmailMessage,
                   recipients: Sequence[str], *, project: ProjectConfig,
                   now: datetime) -> list[int]:
    # Up the layers by design: the notice is stored and processed like received mail, so its
    # record and receipts exist before the personal reply addresses are made (pyproject.toml
    # lists these two imports in the import contracts).
    from gateway.inbound.intake import accept
    from gateway.pipeline import process

    del message["Bcc"]  # never in the bytes we store or hand over (RFC 5322 §3.6.3)
    if message["Date"] is None:
        message["Date"] = format_datetime(now.astimezone(project.zone))
    accepted = accept(app, project=project.code, raw=message.as_bytes(policy=SMTP),
                      channel="notice", envelope_from=prepared.author, envelope_to=recipients,
                      will_enqueue=False)
    state = process(app, accepted.message_pk)
    record_id = _record_of(app, accepted.message_pk)
    expires = now + timedelta(days=project.escalation.reply_address_days)
    project_id = app.project_ids[project.code]
    ids: list[int] = []
    with unit_of_work(app.sessions) as session:
        owing = {r.recipient: r.id for r in session.scalars(
            select(Receipt).where(Receipt.message_pk == accepted.message_pk))}
        wanted = list(dict.fromkeys(normalize_address(r) for r in recipients))
        plain = [r for r in wanted if r not in owing]
        if plain:
            ids.append(_queue(session, project_id, prepared, message, plain, now=now,
                              record_id=record_id).id)
        for address in (r for r in wanted if r in owing):
            copy = deepcopy(message)
            del copy["Reply-To"]
            copy["Reply-To"] = make_reply_address(app.settings, project.code, owing[address],
                                                  expires=expires)
            ids.append(_queue(session, project_id, prepared, copy, [address], now=now,
                              key_suffix=f":{address}", record_id=record_id,
                              receipt_id=owing[address]).id)
    log.info("%s notice %s stored as message %d (%s, record %s), queued as outbox %s",
             prepared.kind.name, message["Message-ID"], accepted.message_pk, state, record_id,
             ids)
    return ids


def _record_of(app: App, message_pk: int) -> int | None:
    with unit_of_work(app.sessions) as session:
        return session.get_one(Message, message_pk).record_id
