"""Client-facing reports approved by their owner before they leave (issue 7, policy 4.1/4.2.1).

    tick ─▶ due report on a matrix row with ``approval = true``
         ─▶ draft_report(): the report, wrapped "【待审批】/[Approval needed]", to the row's owner
            (ReportRun state ``draft``, ``draft_message_id``) — nothing to the recipients yet
    pipeline "approvals" stage ─▶ answer_drafts(): a reply threading to the draft
         ─▶ judge(): from the owner? authentic? not automated? does its own text approve?
         ─▶ approved: draft → sent (conditional UPDATE), queue_report() to the recipients once

A reply approves only when its own new text (quotes and signatures stripped by ``parse``) holds
an approval phrase ("同意发送", "同意", "可以发送", "approve", "approved", "OK to send") that is not
negated ("不同意", "don't approve") and the reply carries no reservation or question
(:func:`gateway.receipts.intent.read_intent` says declined or questioned: "同意，但第三节要改", "OK
to
send?"). Policy 4.3 asks for explicit confirmation; a conditional yes is not one. Any other reply
from the owner leaves the run a draft and is noted on it as ``changes_requested``; a reply from
anyone else, a forged one (DESIGN §4.2) or an auto-reply never approves. Every decision is
noted in the run's ``facts["approval"]["replies"]`` and, apart from auto-replies, in the audit
trail (policy 1.3: traceable).

Sending is once only: the run moves ``draft → sent`` with ``UPDATE … WHERE state = 'draft'``
(two workers handling two approvals: one wins), and the report's outbox key is the same
``report:<project>:<kind>:<period>`` a report without approval uses. The report is collected
again when approved, so late confirmations of the period are in what the recipients get.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from datetime import datetime
from email.utils import make_msgid
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.addresses import person_key
from gateway.audit.chain import record_event
from gateway.config.people import labelled
from gateway.config.settings import ProjectConfig
from gateway.notify.compose import compose
from gateway.notify.outbox import queue
from gateway.notify.render import render
from gateway.notify.system import by_language
from gateway.parse import ParsedMessage
from gateway.parse.headers import normalize_message_id
from gateway.receipts.auth import check
from gateway.receipts.intent import read_intent
from gateway.reports.build import DueReport, client_facts, context, queue_report, template_for
from gateway.reports.data import collect
from gateway.reports.periods import parse_period
from gateway.store.models import Message
from gateway.store.notify_models import ReportRun

if TYPE_CHECKING:
    from gateway.app import App

log = logging.getLogger(__name__)

Outcome = Literal["approved", "changes_requested", "not_owner", "forged", "automated"]
_MAX_NOTES = 20  # replies noted per run: enough to audit, bounded against a reply storm

# Negations sit right before the phrase: "不同意", "暂不同意", "没同意", "未批准"; "not approved",
# "don't approve", "never approve". \b keeps "disapprove"/"unapproved" out.
_APPROVE = re.compile(
    r"(?<![不没未别勿非])(?:同意(?:发送|发出)?|可以发(?:送|出|了)|批准(?:发送)?|准予发送)"
    r"|(?<!not )(?<!n't )(?<!never )\b(?:approved?|ok(?:ay)? to send)\b")


def _normalise(text: str) -> str:
    """NFKC (full-width ＯＫ → ok), case-folded, one space between words."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'").split())


def approves(own_text: str) -> bool:
    """Whether a reply's own text approves sending: an approval phrase, no negation or doubt."""
    text = _normalise(own_text)
    if not _APPROVE.search(text):
        return False
    return read_intent(text).status not in ("declined", "questioned")


def judge(*, sender: str, owners: list[str], own_text: str, automated: bool,
          forged: bool) -> Outcome:
    """What one reply to a draft decides (pure)."""
    if automated:  # RFC 3834: an out-of-office reply from the owner says nothing
        return "automated"
    if person_key(sender) not in {person_key(o) for o in owners}:
        return "not_owner"
    if forged:  # DESIGN §4.2: a reply failing the authentication policy never counts
        return "forged"
    return "approved" if approves(own_text) else "changes_requested"


def approvers(project: ProjectConfig, owner_role: Any) -> list[str]:
    """The members holding the row's owner role; the O&M dept manager when nobody does."""
    people = project.members_with(owner_role) or project.members_with("dept_manager")
    return list(dict.fromkeys(m.email for m in people))


def display(project: ProjectConfig, address: str) -> str:
    """``黄经理 <huang@client.example.cn>`` for a configured person, else the address."""
    return labelled(project, address)


def draft_report(app: App, session: Session, *, project: ProjectConfig, due: DueReport,
                 to: list[str], now: datetime) -> bool:
    """Send the due report as a draft to the row's owner(s); False if already drafted or sent."""
    owners = approvers(project, due.row.owner)
    if not owners:
        log.warning("%s: %s report %s needs approval but the project has no %s or dept_manager",
                    project.code, due.kind, due.period.key, due.row.owner)
        return False
    project_id = app.project_ids[project.code]
    # One Message-ID for every language copy, so a reply to any of them finds the run.
    message_id = make_msgid(idstring="cg", domain=app.settings.gateway.domain)
    run = ReportRun(project_id=project_id, kind=due.kind, period=due.period.key, state="draft",
                    draft_message_id=normalize_message_id(message_id), created_at=now,
                    facts={"approval": {"owners": owners, "to": to, "replies": []}})
    try:
        with session.begin_nested():
            session.add(run)
    except IntegrityError:
        return False
    data = collect(session, project_id=project_id, period=due.period, now=now, zone=project.zone)
    extra = {"approve_to": [display(project, a) for a in to],
             "approvers": [display(project, a) for a in owners],
             # the owner approves what the readers will get: the client template for the client
             "body_template": template_for(project, due.kind, to),
             **client_facts(data, project)}
    for language, group in by_language(project, owners).items():
        rendered = render("reports", "draft", language=language, project=project, context={
            "now": now, "record_id": None,
            **context(data, kind=due.kind, project=project, language=language, extra=extra)})
        message = compose(settings=app.settings, project=project,
                          sender=(project.name, project.address), to=group,
                          subject=rendered.subject, text=rendered.text, html=rendered.html,
                          automated=True, language=language, message_id=message_id)
        mail = queue(session, project_id=project_id, kind="report_draft",
                     idempotency_key=f"report-draft:{project.code}:{due.kind}:{due.period.key}"
                                     f":{language}", message=message, recipients=group, now=now)
        log.info("%s: %s report %s drafted to %s as outbox %d", project.code, due.kind,
                 due.period.key, ", ".join(group), mail.id)
    record_event(session, project_id=project_id, actor="system:reports",
                 action="report.drafted", subject_type="report_run", subject_id=run.id,
                 after={"kind": run.kind, "period": run.period, "owners": owners, "to": to,
                        "draft_message_id": run.draft_message_id}, now=now)
    return True


def answer_drafts(app: App, session: Session, project: ProjectConfig, *, message: Message,
                  parsed: ParsedMessage, raw: bytes, now: datetime) -> None:
    """Apply a reply that threads to a report draft (see module docstring); the ``approvals``
    stage (gateway/stages/approvals.py) calls it for every message."""
    if message.history or not parsed.from_addr:
        return
    refs = {*parsed.in_reply_to, *parsed.references} - {message.message_id}
    if not refs:
        return
    runs = session.scalars(
        select(ReportRun).where(ReportRun.project_id == message.project_id,
                                ReportRun.state == "draft",
                                ReportRun.draft_message_id.in_(sorted(refs)))
        .order_by(ReportRun.id)).all()
    for run in runs:
        _answer(app, session, project, run, message=message, parsed=parsed, raw=raw, now=now)


def _answer(app: App, session: Session, project: ProjectConfig, run: ReportRun, *,
            message: Message, parsed: ParsedMessage, raw: bytes, now: datetime) -> None:
    p = parsed
    approval = dict((run.facts or {}).get("approval") or {})
    automated = bool(p.auto_reply or p.bounce is not None or p.mdn is not None)
    forged = False
    if not automated:
        forged = check(headers=p.authentication_results,
                       trusted=project.auth.trusted_authserv_ids, from_addr=p.from_addr,
                       raw=raw, dkim_verify=project.escalation.dkim_verify).forged
    sender = p.from_addr or ""
    outcome = judge(sender=sender, owners=list(approval.get("owners", [])),
                    own_text=p.own_text or "", automated=automated, forged=forged)
    note = {"at": now.isoformat(), "from": person_key(sender),
            "message_id": message.message_id, "outcome": outcome}
    log.info("report run %d (%s %s): reply from %s → %s", run.id, run.kind, run.period,
             note["from"], outcome)
    if outcome == "approved":
        claimed = session.execute(
            update(ReportRun).where(ReportRun.id == run.id, ReportRun.state == "draft")
            .values(state="sent", sent_at=now).execution_options(synchronize_session=False))
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return  # another worker's approval won; it sent the report
        queue_report(app, session, run, project=project,
                     period=parse_period(run.period, project.zone),
                     to=list(approval.get("to", [])), now=now)
    replies = [*approval.get("replies", []), note][-_MAX_NOTES:]
    run.facts = {**(run.facts or {}), "approval": {**approval, "replies": replies}}
    if outcome != "automated":
        action = {"approved": "report.approved",
                  "changes_requested": "report.changes_requested"}.get(
            outcome, "report.approval_refused")
        record_event(session, project_id=run.project_id, actor="system:approvals",
                     action=action, subject_type="report_run", subject_id=run.id,
                     after=note, now=now)
