"""Compliance findings over a thread: what the policy asks and the mail did not do.

Pure: takes the thread's messages (oldest first), the project and a clock value ``now``.

* ``change_notice_incomplete`` (4.2.1): a change of scope, cost or schedule sent by the team to
  the client states no reason (原因/由于/因为/reason …) or no impact (影响/impact …).
* ``urgent_incident_unanswered`` (4.2.1, 1.3): an urgent message or incident from the client got
  no reply from a team member within ``incident_reply_minutes`` (wall-clock: urgent issues do not
  wait for office hours). A late reply is reported too, with its delay.
* ``formal_unconfirmed`` (4.3, 4.4): a formal communication (formal written or formal oral, or a
  message that needs a receipt) with no confirming reply (收到/确认/noted …) from another party
  within ``confirmation_grace_hours``. The receipts stage tracks each recipient precisely; this
  check is the record-level view used by audits and reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from gateway.addresses import person_key
from gateway.classify.message import classify
from gateway.classify.model import Classification, Finding, ThreadEntry
from gateway.classify.rules import Matcher, Rules, rules_for
from gateway.config.settings import ProjectConfig

FORMAL = ("formal_written", "formal_oral")


def _classification(entry: ThreadEntry, project: ProjectConfig, rules: Rules) -> Classification:
    return entry.classification or classify(entry.facts, project, rules=rules)


def _words(matchers: Sequence[Matcher], text: str, rules: Rules) -> list[str]:
    return [w for w in (m.find(text, rules.negation) for m in matchers) if w is not None]


def _is_member(address: str, project: ProjectConfig) -> bool:
    key = person_key(address)
    return any(person_key(m.email) == key for m in project.members)


def _change_incomplete(index: int, entry: ThreadEntry, kind: Classification,
                       project: ProjectConfig, rules: Rules) -> Finding | None:
    if kind.category != "change_notice" or kind.stakeholder_group != "customer":
        return None
    if not _is_member(entry.facts.sender, project):
        return None
    text = f"{entry.facts.subject}\n{entry.facts.own_text}"
    reasons, impacts = _words(rules.reason, text, rules), _words(rules.impact, text, rules)
    missing = [name for name, hits in (("reason", reasons), ("impact", impacts)) if not hits]
    if not missing:
        return None
    zh = "、".join({"reason": "原因", "impact": "影响"}[m] for m in missing)
    return Finding(
        code="change_notice_incomplete", clause="4.2.1", entry_index=index,
        message_zh=f"向客户发出的范围/成本/进度变更未说明{zh}",
        message_en=f"change notice to the client states no {' or '.join(missing)}",
        evidence={"subject": entry.facts.subject, "missing": missing,
                  "reason_words": reasons, "impact_words": impacts},
    )


def _first_team_reply(thread: Sequence[ThreadEntry], index: int,
                      project: ProjectConfig) -> ThreadEntry | None:
    start = thread[index].at
    return next((e for e in thread[index + 1:]
                 if e.at >= start and _is_member(e.facts.sender, project)), None)


def _incident_unanswered(index: int, thread: Sequence[ThreadEntry], kind: Classification,
                         project: ProjectConfig, rules: Rules, now: datetime) -> Finding | None:
    entry = thread[index]
    if kind.stakeholder_group != "customer" or _is_member(entry.facts.sender, project):
        return None
    if kind.category != "incident" and kind.urgency != "urgent":
        return None
    limit = timedelta(minutes=rules.config.incident_reply_minutes)
    reply = _first_team_reply(thread, index, project)
    waited = (reply.at if reply else now) - entry.at
    if waited <= limit:
        return None
    minutes = int(waited.total_seconds() // 60)
    late = "（回复迟到）" if reply else ""
    return Finding(
        code="urgent_incident_unanswered", clause="4.2.1", entry_index=index,
        message_zh=f"客户紧急问题{minutes}分钟内无团队回复{late}（要求"
                   f"{rules.config.incident_reply_minutes}分钟）",
        message_en=f"urgent client issue without a team reply for {minutes} min "
                   f"(limit {rules.config.incident_reply_minutes} min)"
                   + (", replied late" if reply else ""),
        evidence={"subject": entry.facts.subject, "from": entry.facts.sender,
                  "received_at": entry.at.isoformat(), "minutes_waited": minutes,
                  "replied_at": reply.at.isoformat() if reply else None},
    )


def _confirmed_by_other(thread: Sequence[ThreadEntry], index: int, rules: Rules) -> bool:
    sender = person_key(thread[index].facts.sender)
    return any(person_key(e.facts.sender) != sender
               and _words(rules.confirmation, e.facts.own_text, rules)
               for e in thread[index + 1:])


def _formal_unconfirmed(index: int, thread: Sequence[ThreadEntry], kind: Classification,
                        rules: Rules, now: datetime) -> Finding | None:
    if kind.formality not in FORMAL and not kind.receipt_required:
        return None
    entry = thread[index]
    if now - entry.at <= timedelta(hours=rules.config.confirmation_grace_hours):
        return None
    if _confirmed_by_other(thread, index, rules):
        return None
    return Finding(
        code="formal_unconfirmed", clause="4.4", entry_index=index,
        message_zh="正式沟通记录未经相关方确认",
        message_en="formal communication has no confirmation from the other parties",
        evidence={"subject": entry.facts.subject, "category": kind.category,
                  "formality": kind.formality, "sent_at": entry.at.isoformat(),
                  "grace_hours": rules.config.confirmation_grace_hours},
    )


def findings(thread: Sequence[ThreadEntry], project: ProjectConfig, *, now: datetime,
             rules: Rules | None = None) -> list[Finding]:
    """All compliance findings of one thread (messages oldest first), as of ``now``."""
    rules = rules if rules is not None else rules_for(project.classification)
    out: list[Finding] = []
    for index, entry in enumerate(thread):
        kind = _classification(entry, project, rules)
        checks = (
            _change_incomplete(index, entry, kind, project, rules),
            _incident_unanswered(index, thread, kind, project, rules, now),
            _formal_unconfirmed(index, thread, kind, rules, now),
        )
        out.extend(f for f in checks if f is not None)
    return out
