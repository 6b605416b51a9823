"""A project manager fixes threads by hand; records follow, and the audit trail says who did it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from gateway.app import App
from gateway.audit.chain import verify_project_chain
from gateway.store.audit_models import AuditEvent
from gateway.store.db import unit_of_work
from gateway.store.models import Message, Record
from tests.records.conftest import Deliver


def records(app: App) -> list[Record]:
    with unit_of_work(app.sessions) as s:
        return list(s.scalars(select(Record).order_by(Record.id)))


def actions(app: App) -> list[tuple[str, str]]:
    with unit_of_work(app.sessions) as s:
        assert verify_project_chain(s, app.project_ids["demo"]) == []
        return [(e.actor, e.action) for e in s.scalars(select(AuditEvent)
                                                       .order_by(AuditEvent.seq))]


def test_merging_two_records_folds_one_into_the_other(
        records_app: App, deliver: Deliver, cli: Callable[..., Any]) -> None:
    # Given two mails about one job that threading could not connect
    deliver(subject="【指令】核心交换机巡检")
    deliver(subject="巡检结果", sender="liuyang@xdyj.example.com", to="lina@xdyj.example.com",
            body="巡检完成，无异常。\n")
    first, second = records(records_app)
    # When the PM merges them
    out = cli("threads", "merge", str(first.id), str(second.id), "--project", "demo",
              "--by", "zhangwei")
    assert f"record {second.id} merged into record {first.id}" in out.output
    # Then one record holds both messages, and the audit trail names the PM
    [kept] = records(records_app)
    assert kept.id == first.id and kept.message_count == 2
    with unit_of_work(records_app.sessions) as s:
        assert set(s.scalars(select(Message.record_id))) == {first.id}
    assert ("user:zhangwei", "thread.merged") in actions(records_app)


def test_splitting_a_message_off_opens_a_new_record(
        records_app: App, deliver: Deliver, cli: Callable[..., Any]) -> None:
    # Given a thread in which someone started a new topic by replying to an old mail
    root = deliver(subject="【指令】核心交换机巡检")
    deliver(subject="回复：【指令】核心交换机巡检", sender="liuyang@xdyj.example.com",
            to="lina@xdyj.example.com", body="收到。\n", in_reply_to=root)
    stray = deliver(subject="回复：【指令】核心交换机巡检", sender="chenjing@xdyj.example.com",
                    to="lina@xdyj.example.com", body="另外，下周机房断电演练的方案请审阅。\n",
                    in_reply_to=root)
    [before] = records(records_app)
    assert before.message_count == 3
    # When the PM splits the stray message off
    out = cli("threads", "split", stray, "--project", "demo", "--by", "zhangwei")
    assert "split off into record" in out.output
    # Then it has a record of its own and the old record keeps the rest
    old, new = records(records_app)
    assert (old.message_count, new.message_count) == (2, 1)
    with unit_of_work(records_app.sessions) as s:
        moved = s.scalars(select(Message).where(Message.message_id == stray.strip("<>"))).one()
        assert moved.record_id == new.id and moved.thread_id == new.thread_id
    assert ("user:zhangwei", "thread.split") in actions(records_app)


def test_bad_requests_are_one_line_and_change_nothing(
        records_app: App, deliver: Deliver, cli: Callable[..., Any]) -> None:
    deliver(subject="【指令】核心交换机巡检")
    [only] = records(records_app)
    same = cli("threads", "merge", str(only.id), str(only.id), "--project", "demo", code=2)
    assert "cannot be merged into itself" in same.output
    unknown = cli("threads", "split", "<nope@example.com>", "--project", "demo", code=2)
    assert "unknown Message-IDs" in unknown.output
    assert len(records(records_app)) == 1


def test_the_pipeline_writes_record_events_to_the_audit_trail(
        records_app: App, deliver: Deliver) -> None:
    root = deliver(subject="关于割接窗口", body="请问割接放在周五晚上可以吗？\n")
    deliver(subject="回复：关于割接窗口", sender="zhangwei@xdyj.example.com",
            to="lina@xdyj.example.com", body="结论：割接定在周五22:00，经研究决定。\n",
            in_reply_to=root)
    done = actions(records_app)
    assert ("system:pipeline", "record.created") in done
    assert ("system:pipeline", "record.concluded") in done
