"""Tampering shows (issue 16): a direct edit of the database or the raw store — a receipt set to
``confirmed``, a record's category changed, a message and its blob deleted, raw bytes rewritten
together with ``messages.sha256``, the last audit events deleted with the head moved back — is
named by ``audit verify``, which replays the hash chain against the rows and checks the chain
against the anchors written outside the database. Each attack is done here as an insider would
do it: SQL on the live database, files in the data folder."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from email.message import EmailMessage

from sqlalchemy import delete, func, select, text, update
from typer.testing import CliRunner

from gateway.app import App
from gateway.archive.retention import _delete_rows
from gateway.audit import anchor as audit_anchor
from gateway.audit.chain import entry_hash, event_dict
from gateway.audit.verify import VerifyReport, verify_project
from gateway.cli.main import app as cli
from gateway.records.edit import merge_by_hand, split_messages
from gateway.store.audit_models import AuditEvent, AuditHead
from gateway.store.db import unit_of_work
from gateway.store.models import Message, Receipt, Record
from gateway.testing.clock import FakeClock
from tests.audit.helpers import change_notice, deliver
from tests.receipts.conftest import LINA, LIUYANG, directive, reply
from tests.support.mail import make_mail

ORDER = "【指令】周五前提交巡检报告"


def the_order() -> EmailMessage:
    return directive(subject=ORDER, sender=LINA, to=[LIUYANG],
                     body="请周五前提交机房巡检报告，请回复确认。\n")


def story(app: App, order: EmailMessage | None = None) -> dict[str, int]:
    """A directive owing 刘洋 a receipt, and a change notice: mail, records, a receipt."""
    order = order or the_order()
    first = deliver(app, order)
    notice = deliver(app, change_notice())
    with unit_of_work(app.sessions) as s:
        receipt = s.scalars(select(Receipt).where(Receipt.message_pk == first)).one()
        record = s.get_one(Message, notice).record_id
        assert receipt.status == "pending" and record is not None
        return {"order": first, "notice": notice, "receipt": receipt.id, "record": record}


def findings(report: VerifyReport) -> list[str]:
    return [str(f) for f in report.rows + report.anchor_findings]


def sql(app: App, statement: str, **params: object) -> None:
    with app.engine.begin() as conn:
        assert conn.execute(text(statement), params).rowcount == 1  # type: ignore[attr-defined]


def test_what_the_gateway_did_itself_verifies(app: App, clock: FakeClock) -> None:
    order = the_order()
    ids = story(app, order)
    clock.advance(hours=1)
    deliver(app, reply(order, sender=LIUYANG, body="收到，周五前提交。"))
    report = verify_project(app, "demo")
    assert report.ok, report.lines()
    assert (report.messages, report.receipts, report.records) == (3, 2, 2)
    with unit_of_work(app.sessions) as s:
        assert s.get_one(Receipt, ids["receipt"]).status == "confirmed"
        actions = set(s.scalars(select(AuditEvent.action)))
    assert {"message.arrived", "record.created", "receipt.opened", "receipt.confirmed"} <= actions


def test_a_receipt_confirmed_by_sql_is_named(app: App, clock: FakeClock) -> None:
    order = the_order()
    ids = story(app, order)
    assert verify_project(app, "demo").ok
    # When an insider marks 刘洋's receipt confirmed directly in the database
    sql(app, "UPDATE receipts SET status = 'confirmed' WHERE id = :id", id=ids["receipt"])
    report = verify_project(app, "demo")
    # Then verify names that receipt, what the chain says and what the row says, zh-CN first
    assert not report.ok and report.chain == [] and report.raw == []
    [finding] = findings(report)
    assert finding.startswith(f"回执 {ids['receipt']} ")
    assert "status 链上为 'pending'，当前为 'confirmed'" in finding
    assert f"receipt {ids['receipt']} ({LIUYANG}): not what the audit chain says" in finding
    # And a later genuine change by the gateway does not launder an edit: set to "read" by SQL,
    # then really confirmed by 刘洋's reply, the row ends as the chain says — but the chain
    # also says what the row was when the gateway changed it
    sql(app, "UPDATE receipts SET status = 'read' WHERE id = :id", id=ids["receipt"])
    clock.advance(hours=1)
    deliver(app, reply(order, sender=LIUYANG, body="收到，周五前提交。"))
    [finding] = findings(verify_project(app, "demo"))
    assert f"receipt {ids['receipt']}: changed outside the gateway between seq" in finding
    assert "status: chain 'pending', row 'read'" in finding


def test_a_record_changed_by_sql_is_named(app: App) -> None:
    ids = story(app)
    sql(app, "UPDATE records SET category = 'general' WHERE id = :id", id=ids["record"])
    [finding] = findings(verify_project(app, "demo"))
    assert f"record {ids['record']}: not what the audit chain says" in finding
    assert "category: chain 'change_notice', row 'general'" in finding


def test_a_record_changed_by_sql_stays_named_after_the_gateway_changes_it(app: App,
                                                                       clock: FakeClock) -> None:
    ids = story(app)
    sql(app, "UPDATE records SET urgency = 'urgent' WHERE id = :id", id=ids["record"])
    with unit_of_work(app.sessions) as s:
        record = s.get_one(Record, ids["record"])
        mid = s.get_one(Message, ids["notice"]).message_id
    # The PM's next mail in the thread concludes the record: the gateway changes it again
    clock.advance(hours=1)
    follow = change_notice("Re: 【变更通知】核心交换机割接时间调整", message_id="<c-2@x>")
    follow["In-Reply-To"] = f"<{mid}>"
    follow.set_content("结论：割接改到12月5日。\n")
    deliver(app, follow)
    texts = findings(verify_project(app, "demo"))
    assert any(f"record {record.id}: changed outside the gateway between seq" in t
               and "urgency: chain 'normal', row 'urgent'" in t for t in texts), texts


def test_a_message_deleted_with_its_blob_is_named(app: App) -> None:
    ids = story(app)
    with unit_of_work(app.sessions) as s:
        message = s.get_one(Message, ids["notice"])
        sha, mid = message.sha256, message.message_id
        # What `DELETE … ` by hand does, dependents first (the retention code's own helper)
        _delete_rows(s, Message.__table__, [ids["notice"]])  # type: ignore[arg-type]
    assert app.raw.remove(sha)
    report = verify_project(app, "demo")
    assert report.raw == []  # the raw check alone has nothing left to look at
    texts = findings(report)
    assert any(t.startswith(f"邮件 {ids['notice']} <{mid}>：已不存在")
               and f"message {ids['notice']} <{mid}>: gone, but no event of the chain deleted "
                   f"it" in t for t in texts), texts


def test_raw_bytes_rewritten_with_their_sha256_are_named(app: App) -> None:
    ids = story(app)
    with unit_of_work(app.sessions) as s:
        message = s.get_one(Message, ids["notice"])
        old_sha = message.sha256
    forged = b"X-Forged: yes\r\n" + app.raw.get(old_sha)
    new_sha = hashlib.sha256(forged).hexdigest()
    # The forger stores the new bytes under their own SHA-256 and points the row at them
    with app.engine.begin() as conn:
        conn.execute(text("INSERT INTO raw_blobs (sha256, data) VALUES (:s, :d)"),
                     {"s": new_sha, "d": forged})
    sql(app, "UPDATE messages SET sha256 = :s, size = :n WHERE id = :id", s=new_sha,
        n=len(forged), id=ids["notice"])
    report = verify_project(app, "demo")
    assert report.raw == []  # the bytes match the (forged) row
    [finding] = findings(report)
    assert f"message {ids['notice']}" in finding and f"sha256: chain '{old_sha}'" in finding


def test_a_message_inserted_by_sql_has_no_arrival(app: App) -> None:
    ids = story(app)
    with unit_of_work(app.sessions) as s:
        original = s.get_one(Message, ids["notice"])
        s.add(Message(project_id=original.project_id, message_id="forged@x",
                      sha256=original.sha256, content_hash="0" * 64, size=original.size,
                      state="processed"))
    texts = findings(verify_project(app, "demo"))
    assert any("<forged@x>: no arrival event in the audit chain" in t for t in texts), texts


def test_deleting_the_last_events_and_moving_the_head_back_shows_against_the_anchors(
        app: App, clock: FakeClock) -> None:
    story(app)
    with unit_of_work(app.sessions) as s:
        pid = app.project_ids["demo"]
        keep = s.scalar(select(func.max(AuditEvent.seq)).where(AuditEvent.project_id == pid))
        kept = event_dict(s.scalars(select(AuditEvent).where(
            AuditEvent.project_id == pid, AuditEvent.seq == keep)).one())
    clock.advance(hours=25)
    late = deliver(app, change_notice("【变更通知】备份窗口调整"))
    # The scheduler's daily anchor records the head with the late mail in it
    [anchor] = audit_anchor.anchor_if_due(app)
    assert anchor.seq > keep
    anchors_file = audit_anchor.path_of(app.settings)
    assert stat.S_IMODE(os.stat(anchors_file).st_mode) == 0o600
    assert verify_project(app, "demo").ok
    # When an insider rolls the late mail back: its rows, its events, and the head
    with unit_of_work(app.sessions) as s:
        record_id = s.get_one(Message, late).record_id
        _delete_rows(s, Message.__table__, [late])  # type: ignore[arg-type]
        _delete_rows(s, Record.__table__, [record_id])  # type: ignore[arg-type]
        s.execute(delete(AuditEvent).where(AuditEvent.project_id == pid, AuditEvent.seq > keep))
        s.execute(update(AuditHead).where(AuditHead.project_id == pid)
                  .values(seq=keep, hash=entry_hash(kept)))
    report = verify_project(app, "demo")
    # Then the chain and the rows agree with each other, but not with the anchor
    assert report.chain == [] and report.rows == []
    [finding] = report.anchor_findings
    assert f"the anchor ({anchors_file} line 1" in str(finding)
    assert f"recorded seq {anchor.seq}, the chain now ends at seq {keep}" in str(finding)
    assert str(finding).startswith("审计链被回滚")


def test_an_edited_anchor_line_is_named(app: App, clock: FakeClock) -> None:
    story(app)
    assert audit_anchor.anchor_if_due(app)
    assert audit_anchor.anchor_if_due(app) == []  # once a day
    clock.advance(hours=24)
    assert audit_anchor.anchor_if_due(app)
    path = audit_anchor.path_of(app.settings)
    lines = path.read_text().splitlines()
    entry = json.loads(lines[0])
    entry["seq"] = 1  # lowering an anchor to hide a rollback
    path.write_text("\n".join([json.dumps(entry), lines[1]]) + "\n")
    report = verify_project(app, "demo")
    assert report.anchors == 1
    [finding] = report.anchor_findings
    assert "line 1: not a valid anchor" in str(finding)


def test_merge_split_and_conclude_are_explained(app: App, clock: FakeClock) -> None:
    story(app)
    notes = [deliver(app, make_mail(subject=subject, body="本周巡检情况见下。\n"))
             for subject in ("周报：11月第4周", "机房巡检记录")]
    with unit_of_work(app.sessions) as s:
        keep, absorb = (s.get_one(Message, pk).record_id for pk in notes)
        mid = s.get_one(Message, notes[1]).message_id
    assert keep is not None and absorb is not None and keep != absorb
    now = clock()
    with unit_of_work(app.sessions) as s:  # the PM merges the two records, then splits one off
        merge_by_hand(s, project_id=app.project_ids["demo"], keep_record=keep,
                      absorb_record=absorb, actor="user:zhangwei", now=now)
    assert verify_project(app, "demo").ok, verify_project(app, "demo").lines()
    with unit_of_work(app.sessions) as s:
        split_messages(s, project=app.settings.project("demo"),
                       project_id=app.project_ids["demo"], message_ids=[mid],
                       actor="user:zhangwei", now=now, raw=app.raw.get)
    assert verify_project(app, "demo").ok, verify_project(app, "demo").lines()
    env = cli_env(app)
    done = CliRunner().invoke(cli, ["records", "conclude", str(keep), "--text", "按期完成"],
                              env=env)
    assert done.exit_code == 0, done.output
    assert verify_project(app, "demo").ok, verify_project(app, "demo").lines()
    with unit_of_work(app.sessions) as s:
        actions = list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))
    assert {"thread.merged", "record.merged_away", "thread.split", "record.split",
            "record.concluded"} <= set(actions)


def cli_env(app: App) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.startswith("COMMGATE_")}
    env.update({"COMMGATE_CONFIG": str(app.settings.config_path),
                "COMMGATE_DATA_DIR": str(app.settings.data_dir),
                "COMMGATE_DATABASE_URL": app.settings.database_url,
                "COMMGATE_SECRET_KEY": app.settings.secret_key.decode()})
    return env


def test_audit_verify_command_exits_1_and_anchors_only_an_intact_chain(app: App) -> None:
    ids = story(app)
    env = cli_env(app)
    runner = CliRunner()
    done = runner.invoke(cli, ["audit", "verify", "--project", "demo", "--anchor"], env=env)
    assert done.exit_code == 0, done.output
    assert "完好" in done.output and "intact" in done.output and "anchored seq" in done.output
    assert len(audit_anchor.read(app.settings)[0]) == 1
    sql(app, "UPDATE receipts SET status = 'declined' WHERE id = :id", id=ids["receipt"])
    done = runner.invoke(cli, ["audit", "verify", "--project", "demo", "--anchor"], env=env)
    assert done.exit_code == 1
    first = next(line for line in done.output.splitlines() if "TAMPERED" in line)
    assert first.startswith(f"  TAMPERED 回执 {ids['receipt']} ")
    assert "not anchored" in done.output
    assert len(audit_anchor.read(app.settings)[0]) == 1



def test_rows_from_before_state_tracking_are_adopted_once(app: App) -> None:
    ids = story(app)
    # An upgraded database: rows, but no event of the chain carries their state
    with unit_of_work(app.sessions) as s:
        s.execute(delete(AuditEvent))
        s.execute(delete(AuditHead))
    report = verify_project(app, "demo")
    assert not report.ok and len(report.rows) == 2 + 2 + 2  # messages, records, receipts
    env = cli_env(app)
    done = CliRunner().invoke(cli, ["audit", "adopt", "--project", "demo"], env=env)
    assert done.exit_code == 0, done.output
    assert "adopted 2 message(s), 2 record(s), 2 receipt(s)" in done.output
    assert verify_project(app, "demo").ok
    # A row inserted by SQL afterwards is never adopted: it stays named
    with unit_of_work(app.sessions) as s:
        original = s.get_one(Message, ids["notice"])
        s.add(Message(project_id=original.project_id, message_id="forged@x",
                      sha256=original.sha256, content_hash="0" * 64, size=original.size))
    done = CliRunner().invoke(cli, ["audit", "adopt", "--project", "demo"], env=env)
    assert "adopted 0 message(s)" in done.output
    assert any("<forged@x>: no arrival event" in t for t in findings(verify_project(app, "demo")))
