"""Mail the gateway writes by itself (bounce notes, reminders, reports, record CCs, alerts).

All of it comes From the project address, carries ``Auto-Submitted: auto-generated`` (RFC 3834)
and ``X-Auto-Response-Suppress: All``, is rendered per recipient language (one mail per
language group) and queued in the outbox in the caller's unit of work. The idempotency key of
each language group is the caller's key plus the language, so a job run twice queues nothing new.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from gateway.config.settings import ProjectConfig
from gateway.notify.compose import MailAttachment, compose, record_code
from gateway.notify.outbox import queue
from gateway.notify.render import recipient_language, render
from gateway.store.notify_models import OutboxMail

if TYPE_CHECKING:
    from gateway.app import App


def by_language(project: ProjectConfig, addresses: Iterable[str]) -> dict[str, list[str]]:
    """Recipients grouped by the language each reads, the project's language first."""
    groups: dict[str, list[str]] = {}
    for address in dict.fromkeys(addresses):
        groups.setdefault(recipient_language(project, address), []).append(address)
    return dict(sorted(groups.items(), key=lambda kv: kv[0] != project.language))


def send_system_notice(app: App, session: Session, *, project: ProjectConfig, kind: str,
                       to: Sequence[str], fields: Mapping[str, Any], idempotency_key: str,
                       now: datetime, record_id: int | None = None, cc: Sequence[str] = (),
                       references: Sequence[str] = (), area: str = "notices",
                       attachments: Sequence[MailAttachment] = (),
                       reply_to: str | None = None) -> OutboxMail | None:
    """Render ``<area>/<kind>`` for each language group and queue it; the first row queued."""
    first: OutboxMail | None = None
    code = record_code(project.code, record_id) if record_id is not None else None
    project_id = app.project_ids[project.code]
    cc_groups = by_language(project, cc)
    for language, group in by_language(project, to).items():
        rendered = render(area, kind, language=language, project=project,
                          context={"now": now, "record_id": record_id, **fields})
        group_cc = cc_groups.pop(language, [])
        message = compose(settings=app.settings, project=project,
                          sender=(project.name, project.address), to=group, cc=group_cc,
                          subject=rendered.subject, text=rendered.text, html=rendered.html,
                          automated=True, references=references,
                          in_reply_to=references[-1] if references else None,
                          record_code=code, attachments=attachments, language=language,
                          reply_to=reply_to)
        mail = queue(session, project_id=project_id, kind=kind,
                     idempotency_key=f"{idempotency_key}:{language}"[:255], message=message,
                     recipients=[*group, *group_cc], record_id=record_id, now=now)
        first = first or mail
    for language, group in cc_groups.items():  # Cc readers of a language nobody is To in
        rendered = render(area, kind, language=language, project=project,
                          context={"now": now, "record_id": record_id, **fields})
        message = compose(settings=app.settings, project=project,
                          sender=(project.name, project.address), to=group,
                          subject=rendered.subject, text=rendered.text, html=rendered.html,
                          automated=True, references=references, record_code=code,
                          attachments=attachments, language=language)
        mail = queue(session, project_id=project_id, kind=kind,
                     idempotency_key=f"{idempotency_key}:cc:{language}"[:255],
                     message=message, recipients=group, record_id=record_id, now=now)
        first = first or mail
    return first
