"""People correct records — merge, split, reclassify — and records stay whole (issue 17)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from gateway.app import App
from gateway.classify.learn import NaiveBayes
from gateway.inbound.intake import accept
from gateway.pipeline import replay
from gateway.store.audit_models import AuditEvent, ConnectorDelivery
from gateway.store.db import unit_of_work
from gateway.store.models import Message, Receipt, Record
from gateway.store.notify_models import OutboxMail
from gateway.store.receipt_models import ReceiptRequest
from tests.records.conftest import Deliver
from tests.records.story import PM, check_whole, ingest, notice, records, reply
from tests.support.mail import make_mail


def _record_of(app: App, message_id: str) -> int:
    with unit_of_work(app.sessions) as s:
        rid = s.scalars(select(Message.record_id)
                        .where(Message.message_id == message_id)).one()
        assert rid is not None
        return rid


def _actions(app: App) -> list[str]:
    with unit_of_work(app.sessions) as s:
        return list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_merging_two_notice_records_moves_everything_that_hangs_on_them(
        records_app: App, cli: Callable[..., Any], tmp_path: Path) -> None:
    # Given two directive notices to the client: outbox rows, receipts, DingTalk deliveries
    first = _record_of(records_app, notice(records_app, title="核心交换机巡检"))
    second = _record_of(records_app, notice(records_app, title="防火墙策略复核"))
    with unit_of_work(records_app.sessions) as s:
        assert s.scalars(select(OutboxMail).where(OutboxMail.record_id == second)).first()
        assert s.scalars(select(Receipt).where(Receipt.record_id == second)).first()
        assert s.scalars(select(ConnectorDelivery)
                         .where(ConnectorDelivery.record_id == second)).first()
    # When the PM merges them
    out = cli("threads", "merge", str(first), str(second), "--project", "demo", "--by", PM)
    assert f"record {second} merged into record {first}" in out.output
    # Then one record holds all of it, the other is gone, and nothing dangles
    assert [r.id for r in records(records_app)] == [first]
    with unit_of_work(records_app.sessions) as s:
        for model in (Message, Receipt, ReceiptRequest, OutboxMail):
            assert set(s.scalars(select(model.record_id))) == {first}, model
        assert set(s.scalars(select(ConnectorDelivery.record_id))) == {first}
    assert {"record.merged", "thread.merged"} <= set(_actions(records_app))
    check_whole(records_app, tmp_path)
    # And a reply carrying the absorbed record's code still lands in the kept record
    cli("records", "form", str(first), "--project", "demo")
    tagged = ingest(records_app, subject=f"回复：[demo#R{second}] 防火墙策略复核", sender=PM,
                    to="huang@client.example.cn", body="补充说明。\n")
    assert _record_of(records_app, tagged) == first


def test_a_reply_naming_two_notice_threads_merges_them_in_the_pipeline(
        records_app: App, tmp_path: Path) -> None:
    # Given two notices, each in its own record
    a, b = notice(records_app, title="割接方案"), notice(records_app, title="割接窗口")
    assert _record_of(records_app, a) != _record_of(records_app, b)
    # When the client answers both in one mail (References name both)
    answer = reply(records_app, to=[a, b], body="两项均已收到，确认。\n")
    # Then it is processed, the records are one, and the client's receipts are confirmed
    [kept] = records(records_app)
    assert _record_of(records_app, answer) == kept.id
    with unit_of_work(records_app.sessions) as s:
        statuses = {r.status for r in s.scalars(select(Receipt))}
    assert "confirmed" in statuses
    check_whole(records_app, tmp_path)


def test_replaying_a_quarantined_two_thread_reply_succeeds(records_app: App) -> None:
    a, b = notice(records_app, title="割接方案"), notice(records_app, title="割接窗口")
    msg = make_mail(subject="回复：割接", sender="huang@client.example.cn", to=PM,
                    body="确认。\n")
    msg["References"] = f"<{a}> <{b}>"
    accepted = accept(records_app, project="demo", raw=bytes(msg), channel="smtp",
                      will_enqueue=False)
    with unit_of_work(records_app.sessions) as s:  # as the old code left it
        s.execute(update(Message).where(Message.id == accepted.message_pk)
                  .values(state="quarantined", error="crash: IntegrityError"))
    assert replay(records_app, accepted.message_pk) == "processed"
    assert len(records(records_app)) == 1


def test_split_moves_receipts_and_reclassifies_both_records(
        records_app: App, deliver: Deliver, cli: Callable[..., Any], tmp_path: Path) -> None:
    # Given a directive thread in which someone started an unrelated question
    root = deliver(subject="【指令】核心交换机巡检")
    deliver(subject="回复：【指令】核心交换机巡检", sender="liuyang@xdyj.example.com",
            to="lina@xdyj.example.com", body="收到。\n", in_reply_to=root)
    stray = deliver(subject="回复：【指令】核心交换机巡检", sender="chenjing@xdyj.example.com",
                    to="lina@xdyj.example.com", body="请问下周的机房参观几点开始？\n",
                    in_reply_to=root)
    [before] = records(records_app)
    assert before.category == "directive"
    # When the PM splits the root directive off instead, its receipts must follow it
    out = cli("threads", "split", root, "--project", "demo", "--by", PM)
    assert "split off into record" in out.output
    old, new = records(records_app)
    with unit_of_work(records_app.sessions) as s:
        pk = s.scalars(select(Message.id).where(Message.message_id == root.strip("<>"))).one()
        assert {r.record_id for r in s.scalars(select(Receipt).where(Receipt.message_pk == pk))
                } == {new.id}
    # Then each record is classified from its own messages: no phantom directive remains
    assert new.category == "directive" and new.message_count == 1
    assert old.category != "directive" and old.message_count == 2
    assert old.summary and new.summary and old.summary != new.summary
    assert "thread.split" in _actions(records_app)
    for rid in (old.id, new.id):
        for lang in ("zh-CN", "en"):
            cli("records", "form", str(rid), "--project", "demo", "--lang", lang)
            cli("records", "form", str(rid), "--project", "demo", "--lang", lang,
                "--out", str(tmp_path / f"f{rid}{lang}.html"))
    check_whole(records_app, tmp_path / "a")
    _ = stray


def test_a_split_that_would_empty_a_record_is_refused(
        records_app: App, deliver: Deliver, cli: Callable[..., Any]) -> None:
    lone = deliver(subject="【指令】核心交换机巡检")
    other = deliver(subject="周报")
    out = cli("threads", "split", lone, "--project", "demo", code=2)
    assert "only message" in out.output and "Traceback" not in out.output
    r = deliver(subject="回复：周报", in_reply_to=other, body="好的\n")
    both = cli("threads", "split", other, r, "--project", "demo", code=2)
    assert "all the messages" in both.output
    mixed = cli("threads", "split", lone, r, "--project", "demo", code=2)
    assert "more than one record" in mixed.output
    assert len(records(records_app)) == 2


def test_merge_errors_are_one_line(records_app: App, deliver: Deliver,
                                   cli: Callable[..., Any]) -> None:
    deliver(subject="【指令】核心交换机巡检")
    [only] = records(records_app)
    missing = cli("threads", "merge", str(only.id), "999", "--project", "demo", code=2)
    assert missing.output.strip() == "commgate: no record 999 in this project"


def test_reclassify_opens_and_withdraws_receipts(
        records_app: App, deliver: Deliver, cli: Callable[..., Any], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the story starts from the rules alone: the company examples (gateway/classify/seeds.py)
    # already read this inspection as a directive, so this project has none
    monkeypatch.setattr("gateway.classify.seeds.company_model", NaiveBayes)
    deliver(subject="巡检安排", body="本周五安排核心交换机巡检。\n")
    [rec] = records(records_app)
    assert not rec.receipt_required
    out = cli("records", "reclassify", str(rec.id), "--project", "demo", "--category",
              "directive", "--receipt-required", "true", "--by", PM, "--note", "其实是指令")
    assert "receipt(s) opened" in out.output

    def receipts() -> list[str]:
        with unit_of_work(records_app.sessions) as s:
            return [r.status for r in s.scalars(select(Receipt).order_by(Receipt.id))]

    assert receipts() and set(receipts()) == {"pending"}
    out = cli("records", "reclassify", str(rec.id), "--project", "demo",
              "--receipt-required", "false", "--by", PM, "--note", "不需要回执")
    assert "withdrawn" in out.output and set(receipts()) == {"withdrawn"}
    with unit_of_work(records_app.sessions) as s:
        assert all(r.next_due_at is None for r in s.scalars(select(ReceiptRequest)))
    cli("records", "reclassify", str(rec.id), "--project", "demo",
        "--receipt-required", "true", "--by", PM, "--note", "还是需要")
    assert set(receipts()) == {"pending"}
    assert _actions(records_app).count("record.reclassified") == 3
    for lang in ("zh-CN", "en"):
        form = cli("records", "form", str(rec.id), "--project", "demo", "--lang", lang).output
        assert ("重新分类" if lang == "zh-CN" else "reclassified") in form
    check_whole(records_app, tmp_path)


def test_reclassify_refuses_bad_input_in_one_line(
        records_app: App, deliver: Deliver, cli: Callable[..., Any]) -> None:
    deliver(subject="巡检安排")
    [rec] = records(records_app)
    base = ["records", "reclassify", str(rec.id), "--project", "demo", "--by", PM]
    for args, says in ((["--category", "gossip", "--note", "x"], "unknown category"),
                       (["--note", "x"], "nothing to change"),
                       (["--formality", "written", "--note", " "], "--note is empty"),
                       (["--receipt-required", "maybe", "--note", "x"], "use true or false")):
        out = cli(*base, *args, code=2)
        assert says in out.output and len(out.output.strip().splitlines()) == 1, out.output
    out = cli("records", "reclassify", "999", "--project", "demo", "--by", PM,
              "--category", "risk", "--note", "x", code=2)
    assert "no record 999" in out.output
    with unit_of_work(records_app.sessions) as s:
        assert s.get_one(Record, rec.id).history == []


def test_notice_send_record_joins_that_record(
        records_app: App, deliver: Deliver, cli: Callable[..., Any]) -> None:
    deliver(subject="核心交换机巡检安排", sender=PM, to="huang@client.example.cn")
    [rec] = records(records_app)
    cli("notice", "send", "directive", "--project", "demo", "--from", PM, "--to",
        "huang@client.example.cn", "--set", "title=巡检补充", "--set", "instructions=带上备件",
        "--set", "due=2026-11-25 18:00", "--record", str(rec.id))
    [after] = records(records_app)
    assert after.id == rec.id and after.message_count == 2
    bad = cli("notice", "send", "directive", "--project", "demo", "--from", PM, "--to",
              "huang@client.example.cn", "--set", "title=x", "--set", "instructions=y",
              "--set", "due=z", "--record", "999", code=2)
    assert "no such record" in bad.output
