"""What people do to records, as test steps: mail in, notices out, replies naming several threads,
and the checks that must hold after any of it (every message in exactly one record, no empty
record, receipts with the record of their message, audit and archive intact)."""

from __future__ import annotations

from collections import Counter
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from gateway.app import App
from gateway.archive.export import export_project
from gateway.archive.verify import verify_archive
from gateway.audit.verify import verify_project
from gateway.inbound.intake import accept
from gateway.notify import notices
from gateway.pipeline import process
from gateway.records.record_cc import record_thread_refs
from gateway.store.db import unit_of_work
from gateway.store.models import Message, Receipt, Record
from gateway.store.notify_models import OutboxMail
from gateway.store.receipt_models import ReceiptRequest
from tests.support.mail import make_mail, upstream_pass

PM = "zhangwei@xdyj.example.com"
ENGINEER = "lina@xdyj.example.com"
CLIENT = "huang@client.example.cn"
DIRECTIVE = {"title": "核心交换机巡检", "instructions": "今晚22:00前完成巡检并提交报告",
             "due": "2026-11-24 22:00"}


def ingest(app: App, **fields: Any) -> str:
    """A mail through the trusted upstream, intake and the pipeline; its Message-ID (without
    brackets)."""
    refs = fields.pop("references", None)
    msg = make_mail(**fields)
    msg["Authentication-Results"] = upstream_pass(str(msg["From"]))  # it came the usual way
    if refs:
        del msg["References"], msg["In-Reply-To"]
        msg["References"] = " ".join(f"<{r}>" for r in refs)
        msg["In-Reply-To"] = f"<{refs[-1]}>"
    accepted = accept(app, project="demo", raw=bytes(msg), channel="smtp", will_enqueue=False)
    state = process(app, accepted.message_pk)
    assert state == "processed", _error(app, accepted.message_pk)
    return str(msg["Message-ID"]).strip("<>")


def _error(app: App, pk: int) -> str:
    with unit_of_work(app.sessions) as s:
        return str(s.get_one(Message, pk).error)


def notice(app: App, *, title: str = "核心交换机巡检", record: int | None = None) -> str:
    """The PM's directive notice to the client (``notice send directive``), optionally a reply
    into record ``record`` as ``--record`` does; its Message-ID."""
    project = app.settings.project("demo")
    refs: list[str] = []
    record_id = record
    if record is not None:
        with unit_of_work(app.sessions) as s:
            record_id, refs = record_thread_refs(s, app.project_ids["demo"], record)
    prepared = notices.prepare(app.settings, project, kind="directive", sender=PM, to=[CLIENT],
                               values={**DIRECTIVE, "title": title}, record_id=record_id,
                               references=refs)
    notices.send(app, prepared, project=project, now=app.clock())
    return str(prepared.mails[0][0]["Message-ID"]).strip("<>")


def reply(app: App, *, to: list[str], body: str = "收到，确认。\n", sender: str = CLIENT,
          subject: str = "回复：核心交换机巡检") -> str:
    """A reply whose References name every Message-ID in ``to`` (the last is its parent)."""
    return ingest(app, subject=subject, sender=sender, to=PM, body=body,
                  message_id=make_msgid(domain="client.example.cn"), references=list(to))


def records(app: App) -> list[Record]:
    with unit_of_work(app.sessions) as s:
        return list(s.scalars(select(Record).order_by(Record.id)))


def check_whole(app: App, tmp: Path, *, archive: bool = True) -> None:
    """The invariants of issue 17, on the database and on an archive of it."""
    with unit_of_work(app.sessions) as s:
        messages = list(s.scalars(select(Message)))
        assert all(m.state == "processed" for m in messages), [
            (m.id, m.state, m.error) for m in messages if m.state != "processed"]
        assert all(m.record_id is not None for m in messages), "a message without a record"
        counts = Counter(m.record_id for m in messages)
        for record in s.scalars(select(Record)):
            assert counts[record.id] > 0, f"record {record.id} is empty"
            assert record.message_count == counts[record.id], (record.id, record.message_count)
            assert all(m.thread_id == record.thread_id for m in messages
                       if m.record_id == record.id), f"record {record.id} spans threads"
        by_pk = {m.id: m for m in messages}
        for receipt in s.scalars(select(Receipt)):
            assert receipt.record_id == by_pk[receipt.message_pk].record_id, receipt.id
        for request in s.scalars(select(ReceiptRequest)):
            assert request.record_id == by_pk[request.message_pk].record_id, request.id
        live = set(s.scalars(select(Record.id)))
        dangling = s.scalar(select(func.count()).select_from(OutboxMail)
                            .where(OutboxMail.record_id.is_not(None),
                                   OutboxMail.record_id.not_in(live or {-1})))
        assert dangling == 0
    report = verify_project(app, "demo")
    assert report.ok, report.lines()
    if archive:
        tmp.mkdir(parents=True, exist_ok=True)
        path = tmp / f"demo-{len(list(tmp.iterdir()))}.zip"
        export_project(app, "demo", path, actor="user:test")
        assert verify_archive(path) == []
