"""What must hold whatever happens: replays are harmless, a crashed pass loses nothing, history
opens no deadlines, someone else's token counts for nobody, and the audit trail hears of it."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from sqlalchemy import func, select, update

from gateway.app import App
from gateway.escalation.mail import Outgoing
from gateway.inbound.intake import accept
from gateway.jobs.scheduler import tick
from gateway.notify.tokens import make_reply_address
from gateway.pipeline import process
from gateway.store.audit_models import AuditEvent
from gateway.store.db import unit_of_work
from gateway.store.models import Message
from gateway.store.receipt_models import EscalationStep, ReceiptEvent
from gateway.testing.clock import FakeClock
from tests.receipts.conftest import (
    CHENJING,
    LINA,
    LIUYANG,
    at,
    directive,
    outbox,
    receipts,
    reply,
)
from tests.receipts.styles import foxmail

SUBJECT = "【指令】周五前提交巡检报告"


def ingest(app: App, msg: EmailMessage, *, history: bool = False,
           envelope_to: tuple[str, ...] = ("proj-demo@gw.example.com",)) -> int:
    stored = accept(app, project="demo", raw=bytes(msg), channel="import",
                    envelope_to=envelope_to, history=history)
    assert process(app, stored.message_pk) == "processed"
    return stored.message_pk


def count(app: App, model: type) -> int:
    with unit_of_work(app.sessions) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_processing_a_message_twice_changes_nothing_twice(app: App, clock: FakeClock) -> None:
    order = directive(subject=SUBJECT, sender=LINA, to=[LIUYANG, CHENJING],
                      body="请周五前提交巡检报告，请回复确认。\n")
    first = ingest(app, order)
    clock.set("2026-11-24 11:00")
    question = ingest(app, reply(order, sender=LIUYANG, body=foxmail("是哪个机房的？", order)))
    events, mails = count(app, ReceiptEvent), outbox(app)
    assert [m["kind"] for m in mails] == ["receipt_answer"]
    # When both messages go through the pipeline again (a replay, a redelivered job)
    with unit_of_work(app.sessions) as s:
        s.execute(update(Message).where(Message.id.in_([first, question]))
                  .values(state="received"))
    assert process(app, first) == "processed" and process(app, question) == "processed"
    # Then nothing is opened, changed or queued a second time
    assert count(app, ReceiptEvent) == events
    assert outbox(app) == mails
    assert receipts(app)[SUBJECT, LIUYANG]["status"] == "questioned"


class Crash(BaseException):
    """A process dying mid-pass (not an Exception: nothing catches it)."""


class CrashingSink:
    def put(self, session: object, mail: Outgoing, *, project_id: int, now: object) -> None:
        raise Crash


def test_a_pass_that_dies_before_committing_is_done_again_once(app: App, clock: FakeClock) -> None:
    ingest(app, directive(subject=SUBJECT, sender=LINA, to=[LIUYANG, CHENJING],
                          body="请回复确认。\n"))
    with pytest.raises(Crash):
        tick(app, now=at("2026-11-25 10:00"), sink=CrashingSink())
    assert outbox(app) == [] and count(app, EscalationStep) == 0
    # The next pass (another process, after a restart) does the work, once
    tick(app, now=at("2026-11-25 10:01"))
    tick(app, now=at("2026-11-25 10:02"))
    assert sorted(m["key"].rsplit(":", 3)[0] for m in outbox(app)) == ["reminder", "reminder"]
    assert count(app, EscalationStep) == 1


def test_dry_run_queues_nothing(app: App) -> None:
    ingest(app, directive(subject=SUBJECT, sender=LINA, to=[LIUYANG], body="请回复确认。\n"))
    report = tick(app, now=at("2026-11-25 10:00"), dry_run=True)
    assert [m.kind for m in report.mails] == ["reminder"]
    assert outbox(app) == [] and count(app, EscalationStep) == 0
    assert receipts(app)[SUBJECT, LIUYANG]["level"] == 0
    assert [m.kind for m in tick(app, now=at("2026-11-25 10:00")).mails] == ["reminder"]


def test_history_imports_open_no_receipts(app: App) -> None:
    ingest(app, directive(subject=SUBJECT, sender=LINA, to=[LIUYANG], body="请回复确认。\n",
                          date=at("2025-03-01 10:00")), history=True)
    assert receipts(app) == {}
    tick(app, now=at("2026-12-31 10:00"))
    assert outbox(app) == []


def test_a_reply_on_someone_elses_token_counts_for_nobody(app: App, clock: FakeClock) -> None:
    order = directive(subject=SUBJECT, sender=LINA, to=[LIUYANG, CHENJING], body="请回复确认。\n")
    ingest(app, order)
    liuyang_id = receipts(app)[SUBJECT, LIUYANG]["receipt_id"]
    token = make_reply_address(app.settings, "demo", liuyang_id, expires=at("2026-12-31 00:00"))
    # 陈静 answers on 刘洋's reply address, with no In-Reply-To at all
    stray = reply(order, sender=CHENJING, body="收到", to=[token])
    del stray["In-Reply-To"], stray["References"]
    stray.replace_header("Subject", "收到")
    ingest(app, stray, envelope_to=(token,))
    rows = receipts(app)
    assert rows[SUBJECT, LIUYANG]["status"] == "pending"
    assert rows[SUBJECT, LIUYANG]["notes"][-1]["kind"] == "foreign_token"
    # and 刘洋 on his own token, just as blind, counts
    own = reply(order, sender="LiuYang+mobile@XDYJ.example.com", body="好的，收到。", to=[token])
    del own["In-Reply-To"], own["References"]
    own.replace_header("Subject", "回复")
    ingest(app, own, envelope_to=(token,))
    assert receipts(app)[SUBJECT, LIUYANG]["status"] == "confirmed"


def test_every_change_reaches_the_audit_trail(app: App, clock: FakeClock) -> None:
    order = directive(subject=SUBJECT, sender=LINA, to=[LIUYANG], body="请回复确认。\n")
    ingest(app, order)
    tick(app, now=at("2026-11-25 10:00"))
    clock.set("2026-11-25 11:00")
    ingest(app, reply(order, sender=LIUYANG, body="收到。"))
    with unit_of_work(app.sessions) as s:
        actions = list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))
        unaudited = s.scalar(select(func.count()).select_from(ReceiptEvent)
                             .where(ReceiptEvent.audited.is_(False)))
    for action in ("receipt.opened", "receipt.due_soon", "receipt.overdue", "receipt.reminded",
                   "receipt.confirmed", "receipt.closed"):
        assert action in actions
    assert unaudited == 0
