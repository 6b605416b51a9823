"""One scheduler pass, one mail per person: reminders and escalations gathered into a digest.

A pass may owe one person several mails — the client four reminders for four change notices, the
project manager an escalation for each of three directives. :class:`DigestSink` sits between
:func:`gateway.jobs.scheduler.advance` and the outbox: it holds the pass's mails (dropping those of
a
request whose step failed and was rolled back), then :meth:`DigestSink.flush` queues, per person
(``Outgoing.to``), the single mail unchanged, or one digest listing every item (issue 21).

Only delivery is merged. Each item's step, receipt level and audit event are written by
``advance`` exactly as before, each under its own key. A digest threads to every directive it
lists (References), so a reply "收到" to it answers each of them (gateway/receipts/answers.py
reads every reference); each reminder item also names its own signed reply address, for an
answer about one item only. Its outbox key is ``digest:<person>:<hash of the item keys>``: the
same pass done again queues nothing new.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy.orm import Session

from gateway.config.people import display_name
from gateway.config.settings import ProjectConfig, Settings
from gateway.escalation.mail import AREA, Outgoing, Sink
from gateway.notify.compose import compose
from gateway.notify.render import recipient_language, render

log = logging.getLogger(__name__)

MERGED = ("reminder", "escalation")


def _plain(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    return str(body.get_content()).strip() if body is not None else ""


def digest(settings: Settings, project: ProjectConfig, *, to: tuple[str, ...],
           items: list[Outgoing]) -> Outgoing:
    """One mail to ``to`` listing ``items`` (each with its own text and reply address)."""
    language = recipient_language(project, to[0])
    entries = [{"subject": str(m.message["Subject"] or ""), "kind": m.kind,
                "text": _plain(m.message), "record_id": m.record_id,
                "reply_to": str(m.message["Reply-To"] or "") if m.kind == "reminder" else ""}
               for m in items]
    rendered = render(AREA, "digest", language=language, project=project, context={
        "items": entries, "name": "、".join(display_name(project, a) for a in to)
        if language == "zh-CN" else ", ".join(display_name(project, a) for a in to)})
    cc = list(dict.fromkeys(a for m in items for a in m.recipients if a not in to))
    references = list(dict.fromkeys(
        ref for m in items for ref in str(m.message["References"] or "").split()))
    message = compose(settings=settings, project=project, sender=(project.name, project.address),
                      to=list(to), cc=cc, subject=rendered.subject, text=rendered.text,
                      html=rendered.html, automated=True, language=language,
                      references=references)
    digest_of = hashlib.sha256("\n".join(sorted(m.key for m in items)).encode()).hexdigest()
    return Outgoing(kind="digest", key=f"digest:{','.join(to)}:{digest_of[:32]}",
                    message=message, recipients=(*to, *cc), record_id=None, receipt_id=None,
                    to=to)


@dataclass
class DigestSink:
    """Holds one pass's mails; ``flush`` queues one per person (see the module docstring)."""

    settings: Settings
    project_of: Callable[[int], ProjectConfig]
    held: list[tuple[int, Outgoing]] = field(default_factory=list)
    current: list[tuple[int, Outgoing]] = field(default_factory=list)

    def put(self, session: Session, mail: Outgoing, *, project_id: int, now: datetime) -> None:
        self.current.append((project_id, mail))

    def keep(self) -> None:
        """The request's step committed (its savepoint released): its mails go out."""
        self.held += self.current
        self.current = []

    def drop(self) -> None:
        """The request's step was rolled back: so are its mails."""
        self.current = []

    def flush(self, session: Session, inner: Sink, *, now: datetime) -> None:
        groups: dict[tuple[int, tuple[str, ...]], list[Outgoing]] = {}
        for project_id, mail in self.held:
            if mail.kind in MERGED and mail.to:
                groups.setdefault((project_id, mail.to), []).append(mail)
            else:
                inner.put(session, mail, project_id=project_id, now=now)
        for (project_id, to), items in groups.items():
            mails = items
            if len(items) > 1:
                try:
                    mails = [digest(self.settings, self.project_of(project_id), to=to,
                                    items=items)]
                except Exception:  # never hold up a reminder: send the items one by one
                    log.exception("digest to %s failed; sending %d mails", to, len(items))
            for mail in mails:
                inner.put(session, mail, project_id=project_id, now=now)
        self.held = []
