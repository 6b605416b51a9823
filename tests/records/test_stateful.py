"""Random sequences of what people do to records, on SQLite and PostgreSQL; after every step the
records are whole (issue 17): every message in exactly one record, no record empty, every receipt
with the record of its message, the audit chain verifies, and an archive exports and verifies.

Steps: mail in, a client's reply (naming one or two earlier mails), a directive notice (new, or
into a record as ``notice send --record``), merge, split (including splits that must be
refused), reclassify, conclude, close and reopen. ``receipts set`` is not on this branch.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import delete, select

from gateway.app import App
from gateway.archive.handover import close_project
from gateway.archive.project_state import reopen
from gateway.audit import anchor as audit_anchor
from gateway.errors import RecordEditError
from gateway.records.edit import merge_by_hand, split_messages
from gateway.records.reclassify import Change, conclude, reclassify
from gateway.store.db import unit_of_work
from gateway.store.models import Message, Project, Record
from gateway.store.schema import metadata
from tests.records.story import PM, check_whole, ingest, notice, reply

TOPICS = ("核心交换机巡检", "防火墙策略复核", "机房断电演练", "备件采购", "月度报告")
BODIES = ("请于今晚22:00前完成巡检，完成后回复确认。\n", "本周进展正常。\n",
          "结论：割接定在周五22:00。\n", "请问方案什么时候能发？\n")
CATEGORIES = ("directive", "decision", "general", "risk", "inquiry")


def _reset(app: App) -> None:
    """Empty every table but ``projects`` (each example starts from a fresh gateway)."""
    with unit_of_work(app.sessions) as s:
        for table in reversed(metadata.sorted_tables):
            if table.name != "projects":
                s.execute(delete(table))
        s.execute(Project.__table__.update().values(intake_open=True))
    # The chain starts again, so its anchors outside the database must too.
    audit_anchor.path_of(app.settings).unlink(missing_ok=True)


class Records(RuleBasedStateMachine):
    app: App
    tmp: Path

    def __init__(self) -> None:
        super().__init__()
        _reset(self.app)
        self.steps = 0

    # -- what is there ------------------------------------------------------------------
    def _ids(self) -> list[str]:
        with unit_of_work(self.app.sessions) as s:
            return list(s.scalars(select(Message.message_id).order_by(Message.id)))

    def _records(self) -> list[int]:
        with unit_of_work(self.app.sessions) as s:
            return list(s.scalars(select(Record.id).order_by(Record.id)))

    def _open(self) -> bool:
        with unit_of_work(self.app.sessions) as s:
            return bool(s.scalars(select(Project.intake_open)).first())

    def _messages_of(self, record: int) -> list[str]:
        with unit_of_work(self.app.sessions) as s:
            return list(s.scalars(select(Message.message_id).where(Message.record_id == record)
                                  .order_by(Message.id)))

    # -- rules ----------------------------------------------------------------------------
    @precondition(lambda self: self._open())
    @rule(topic=st.sampled_from(TOPICS), body=st.sampled_from(BODIES),
          marker=st.sampled_from(("", "【指令】", "【决策】")))
    def mail_in(self, topic: str, body: str, marker: str) -> None:
        ingest(self.app, subject=f"{marker}{topic}", body=body,
               to="huang@client.example.cn, liuyang@xdyj.example.com")

    @precondition(lambda self: self._open() and bool(self._ids()))
    @rule(data=st.data(), body=st.sampled_from(("收到，确认。\n", "不太明白，能否说明？\n",
                                                "无法按期完成。\n")))
    def client_reply(self, data: st.DataObject, body: str) -> None:
        ids = self._ids()
        named = data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=2, unique=True))
        reply(self.app, to=named, body=body)

    @precondition(lambda self: self._open())
    @rule(data=st.data(), topic=st.sampled_from(TOPICS))
    def directive_notice(self, data: st.DataObject, topic: str) -> None:
        records = self._records()
        into = data.draw(st.none() | st.sampled_from(records)) if records else None
        notice(self.app, title=topic, record=into)

    @precondition(lambda self: len(self._records()) >= 2)
    @rule(data=st.data())
    def merge(self, data: st.DataObject) -> None:
        keep, other = data.draw(st.lists(st.sampled_from(self._records()), min_size=2,
                                         max_size=2, unique=True))
        with unit_of_work(self.app.sessions) as s:
            merge_by_hand(s, project_id=self.app.project_ids["demo"], keep_record=keep,
                          absorb_record=other, actor=f"user:{PM}", now=self.app.clock())

    @precondition(lambda self: bool(self._records()))
    @rule(data=st.data())
    def split(self, data: st.DataObject) -> None:
        record = data.draw(st.sampled_from(self._records()))
        mine = self._messages_of(record)
        chosen = data.draw(st.lists(st.sampled_from(mine), min_size=1, unique=True))
        whole = set(chosen) == set(mine)
        try:
            with unit_of_work(self.app.sessions) as s:
                split_messages(s, project=self.app.settings.project("demo"),
                               project_id=self.app.project_ids["demo"], message_ids=chosen,
                               actor=f"user:{PM}", now=self.app.clock(), raw=self.app.raw.get)
        except RecordEditError:
            assert whole, "a split that leaves both records non-empty was refused"
            assert self._messages_of(record) == mine  # refused: nothing changed
        else:
            assert not whole, "a split that empties a record was done"

    @precondition(lambda self: bool(self._records()))
    @rule(data=st.data(), category=st.none() | st.sampled_from(CATEGORIES),
          receipts=st.none() | st.booleans())
    def reclassify(self, data: st.DataObject, category: str | None,
                   receipts: bool | None) -> None:
        record_id = data.draw(st.sampled_from(self._records()))
        change = Change(category=category, receipt_required=receipts)
        with unit_of_work(self.app.sessions) as s:
            record = s.get_one(Record, record_id)
            try:
                reclassify(self.app, s, project=self.app.settings.project("demo"),
                           record=record, change=change, actor=f"user:{PM}", note="纠正",
                           now=self.app.clock())
            except RecordEditError:
                assert category is None and receipts is None

    @precondition(lambda self: bool(self._records()))
    @rule(data=st.data(), text=st.sampled_from(("按方案执行", "延期一周")))
    def conclude(self, data: st.DataObject, text: str) -> None:
        record_id = data.draw(st.sampled_from(self._records()))
        with unit_of_work(self.app.sessions) as s:
            conclude(s, s.get_one(Record, record_id), text, by=PM, now=self.app.clock())

    @precondition(lambda self: self._open())
    @rule()
    def close(self) -> None:
        self.steps += 1
        close_project(self.app, "demo", out=self.tmp / f"close-{self.steps}.zip",
                      actor=f"user:{PM}")
        assert not self._open()

    @precondition(lambda self: not self._open())
    @rule()
    def reopen(self) -> None:
        with unit_of_work(self.app.sessions) as s:
            reopen(s, self.app.project_ids["demo"], actor=f"user:{PM}", note="保修期内",
                   now=self.app.clock())

    # -- after every step -------------------------------------------------------------------
    @invariant()
    def records_are_whole(self) -> None:
        self.steps += 1
        check_whole(self.app, self.tmp / f"step-{self.steps}")


def test_random_corrections_keep_records_whole(records_app: App, tmp_path: Path) -> None:
    Records.app, Records.tmp = records_app, tmp_path
    run_state_machine_as_test(Records, settings=settings(
        max_examples=20, stateful_step_count=8, deadline=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                               HealthCheck.filter_too_much]))


@pytest.fixture(autouse=True)
def _no_state_between_tests() -> None:
    Records.app = None  # type: ignore[assignment]
