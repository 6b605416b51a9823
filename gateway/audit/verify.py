"""``commgate audit verify``: is the project's history what the gateway recorded?

Four checks, reading one consistent snapshot of the database, in batches (bounded memory but
for one small state per tracked row):

1. the hash chain (:func:`gateway.audit.chain.verify_chain`): an edited, inserted or deleted entry,
   a gap in the sequence, a head that does not match;
2. the replay (:mod:`gateway.audit.replay`): every message, record and receipt row against the
   state the chain says it has — a receipt set to ``confirmed`` by SQL, a record's category
   changed, a message deleted, a message without its arrival event, a ``messages.sha256``
   rewritten together with the raw bytes;
3. the anchors (:mod:`gateway.audit.anchor`): the chain still holds each anchored head, so
   deleting the last events and moving ``audit_heads`` back (or restoring an old backup) shows;
4. the raw store: each message's bytes hash to its SHA-256 (``RawStore.verify``).

``--anchor`` then appends the verified head to the anchors file (only when nothing was found:
anchoring a tampered chain would vouch for it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit import anchor as audit_anchor
from gateway.audit.batch import append_states
from gateway.audit.chain import Break, entry_hash, head_of, lock_head, project_entries, verify_chain
from gateway.audit.replay import Finding, Replay
from gateway.audit.state import arrival_state, receipt_state, record_state
from gateway.store.db import unit_of_work
from gateway.store.models import Message, Receipt, Record
from gateway.store.raw import RawStore

if TYPE_CHECKING:
    from gateway.app import App


@dataclass
class VerifyReport:
    project: str
    events: int = 0
    messages: int = 0
    records: int = 0
    receipts: int = 0
    anchors: int = 0
    chain: list[Break] = field(default_factory=list)
    rows: list[Finding] = field(default_factory=list)
    anchor_findings: list[Finding] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    anchored: audit_anchor.Anchor | None = None

    @property
    def ok(self) -> bool:
        return not (self.chain or self.rows or self.anchor_findings or self.raw)

    @property
    def findings(self) -> int:
        return len(self.chain) + len(self.rows) + len(self.anchor_findings) + len(self.raw)

    def lines(self) -> list[str]:
        p = self.project
        out = [f"审计链 {p}：{self.events} 条事件，" + ("完好" if not self.chain
                                                 else f"{len(self.chain)} 处断裂")
               + f" | audit chain of {p}: {self.events} event(s), "
               + ("intact" if not self.chain else f"{len(self.chain)} break(s)")]
        out += [f"  BROKEN {b.zh()} | {b}" for b in self.chain]
        counted = (f"{self.messages} 封邮件、{self.records} 条记录、{self.receipts} 个回执",
                   f"{self.messages} message(s), {self.records} record(s), "
                   f"{self.receipts} receipt(s)")
        out.append(f"逐行核对：{counted[0]}，" + ("全部与审计链一致" if not self.rows
                                            else f"{len(self.rows)} 处与审计链不符")
                   + f" | rows replayed: {counted[1]}, "
                   + ("all explained by the chain" if not self.rows
                      else f"{len(self.rows)} not explained by the chain"))
        out += [f"  TAMPERED {f}" for f in self.rows]
        if self.anchors or self.anchor_findings:
            out.append(f"外部锚点：{self.anchors} 个，"
                       + ("与审计链一致" if not self.anchor_findings
                          else f"{len(self.anchor_findings)} 处不符")
                       + f" | anchors: {self.anchors}, "
                       + ("chain matches" if not self.anchor_findings
                          else f"{len(self.anchor_findings)} mismatch(es)"))
        else:
            out.append("外部锚点：尚无（由调度器每日写入，或 audit verify --anchor）"
                       " | anchors: none yet (written daily by the scheduler, or by "
                       "audit verify --anchor)")
        out += [f"  ROLLBACK {f}" for f in self.anchor_findings]
        out.append(f"原始邮件：已核对 {self.messages} 封，"
                   + ("全部与 SHA-256 一致" if not self.raw else f"{len(self.raw)} 封有问题")
                   + f" | raw messages: {self.messages} checked, "
                   + ("all match their SHA-256" if not self.raw else f"{len(self.raw)} bad"))
        out += [f"  BROKEN {line}" for line in self.raw]
        if self.anchored is not None:
            a = self.anchored
            out.append(f"已写入锚点 seq {a.seq} {a.hash} | anchored seq {a.seq} {a.hash}")
        return out


def bad_messages(session: Session, raw: RawStore, project_id: int) -> Iterator[str]:
    q = (select(Message.id, Message.message_id, Message.sha256)
         .where(Message.project_id == project_id).order_by(Message.id)
         .execution_options(yield_per=1000))
    for pk, mid, sha in session.execute(q):
        if not raw.verify(sha):
            state = "altered" if raw.exists(sha) else "missing"
            zh = "被修改" if state == "altered" else "缺失"
            yield (f"邮件 id {pk} <{mid}>：原始邮件{zh}（应为 SHA-256 {sha}） | "
                   f"message id {pk} <{mid}>: raw message {state} (expected SHA-256 {sha})")


def _snapshot(session: Session) -> None:
    """One consistent view: a message and its arrival event commit together, so reading them
    at two moments would report a message stored in between as unexplained."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    else:  # pysqlite does not begin a transaction for SELECTs: each would see a new snapshot
        conn = session.connection()
        dbapi = conn.connection.dbapi_connection
        if dbapi is not None and not dbapi.in_transaction:
            conn.exec_driver_sql("BEGIN")


def _rows(session: Session, pid: int, replay: Replay, report: VerifyReport) -> None:
    batch: dict[str, Any] = {"yield_per": 1000}
    messages = session.execute(
        select(Message.id, Message.sha256, Message.message_id, Message.size)
        .where(Message.project_id == pid).order_by(Message.id).execution_options(**batch))

    def message_rows() -> Iterator[tuple[int, dict[str, Any], str]]:
        for pk, sha, mid, size in messages:
            report.messages += 1
            yield pk, arrival_state(sha, mid, size), f"<{mid}>"

    replay.check_rows("message", message_rows())
    replay.missing("message")
    records = session.execute(
        select(Record.id, Record.category, Record.stakeholder_group, Record.formality,
               Record.urgency, Record.receipt_required, Record.conclusion)
        .where(Record.project_id == pid).order_by(Record.id).execution_options(**batch))

    def record_rows() -> Iterator[tuple[int, dict[str, Any], str]]:
        for rid, *values in records:
            report.records += 1
            row = Record(category=values[0], stakeholder_group=values[1], formality=values[2],
                         urgency=values[3], receipt_required=values[4], conclusion=values[5])
            yield rid, record_state(row), ""

    replay.check_rows("record", record_rows())
    replay.missing("record")
    receipts = session.execute(
        select(Receipt.id, Receipt.status, Receipt.recipient, Receipt.message_pk)
        .join(Message, Message.id == Receipt.message_pk).where(Message.project_id == pid)
        .order_by(Receipt.id).execution_options(**batch))

    def receipt_rows() -> Iterator[tuple[int, dict[str, Any], str]]:
        for rid, status, recipient, message_pk in receipts:
            report.receipts += 1
            yield rid, {"status": status, "recipient": recipient, "message_pk": message_pk}, \
                f"({recipient})"

    replay.check_rows("receipt", receipt_rows())
    replay.missing("receipt")


def _check_anchors(anchors: list[audit_anchor.Anchor], bad_lines: list[int], *, pid: int,
                   last_seq: int, hashes: dict[int, str], anchors_file: str) -> list[Finding]:
    out = [Finding(f"anchor line {n}",
                   f"锚点文件 {anchors_file} 第 {n} 行无效（被修改或伪造：签名不符）",
                   f"{anchors_file} line {n}: not a valid anchor (edited or forged: its MAC "
                   f"does not match)") for n in bad_lines]
    for a in anchors:
        where = f"{anchors_file} line {a.line}, {a.at}, {a.reason}"
        if a.project_id != pid:
            out.append(Finding(
                f"anchor line {a.line}",
                f"锚点（{where}）属于项目 id {a.project_id}，"
                f"数据库中该项目 id 为 {pid}（数据库被替换？）",
                f"anchor ({where}) is for project id {a.project_id}, the database has {pid} "
                f"(was the database replaced?)"))
        elif a.seq > last_seq:
            out.append(Finding(
                f"anchor line {a.line}",
                f"审计链被回滚：锚点（{where}）记录链头为 seq {a.seq}，而链现在只到 seq {last_seq}",
                f"audit chain rolled back: the anchor ({where}) recorded seq {a.seq}, the chain "
                f"now ends at seq {last_seq}"))
        elif a.seq > 0 and hashes.get(a.seq) != a.hash:
            out.append(Finding(
                f"anchor line {a.line}",
                f"审计链被改写：seq {a.seq} 与锚点（{where}）记录的哈希不符",
                f"audit chain rewritten: seq {a.seq} does not match the hash the anchor "
                f"({where}) recorded"))
    return out


def verify_project(app: App, code: str, *, anchor: bool = False) -> VerifyReport:
    pid = app.project_ids[app.settings.project(code).code]
    report = VerifyReport(project=code)
    all_anchors, bad_lines = audit_anchor.read(app.settings)
    anchors = [a for a in all_anchors if a.project == code]
    report.anchors = len(anchors)
    wanted = {a.seq for a in anchors}
    hashes: dict[int, str] = {}
    last = [0]
    replay = Replay()
    with unit_of_work(app.sessions) as session:
        _snapshot(session)
        head_seq, head_hash = head_of(session, pid)

        def entries() -> Iterator[dict[str, Any]]:
            for entry in project_entries(session, pid):
                report.events += 1
                replay.feed(entry)
                seq = int(entry["seq"])
                last[0] = max(last[0], seq)
                if seq in wanted:
                    hashes[seq] = entry_hash(entry)
                yield entry

        report.chain = list(verify_chain(entries(), head_seq=head_seq, head_hash=head_hash))
        _rows(session, pid, replay, report)
        report.raw = list(bad_messages(session, app.raw, pid))
    report.rows = replay.findings
    report.anchor_findings = _check_anchors(
        anchors, bad_lines, pid=pid, last_seq=last[0], hashes=hashes,
        anchors_file=str(audit_anchor.path_of(app.settings)))
    if anchor and report.ok and head_seq > 0:  # the head just verified, not a later one
        report.anchored = audit_anchor.Anchor(
            at=app.clock().astimezone(UTC).isoformat(timespec="seconds"), project=code,
            project_id=pid, seq=head_seq, hash=head_hash, reason="verify")
        audit_anchor.append(app.settings, [report.anchored])
    return report


def adopt_project(app: App, code: str, *, actor: str) -> dict[str, int]:
    """Adopt the rows stored before the chain tracked state (an upgraded database).

    A row the chain never mentions is tampering — except rows older than state tracking: every
    message, record and receipt stored before this version has no state event. This records one
    ``<kind>.adopted`` event with the row's current state for each such row, and only for rows
    whose id is below the lowest id the chain already tracks for that kind (so a row inserted by
    SQL since is never adopted). Rows that differ from the chain, or are missing, are left to
    ``audit verify``. The adoption is itself in the chain, with who ran it.
    """
    pid = app.project_ids[app.settings.project(code).code]
    replay = Replay()
    counts = {"message": 0, "record": 0, "receipt": 0}
    with unit_of_work(app.sessions) as session:
        lock_head(session, pid)  # nothing is appended while we look
        for entry in project_entries(session, pid):
            replay.feed(entry)
        below = {kind: min(replay.expected[kind], default=None) for kind in counts}
        found: list[tuple[int, str, tuple[str, int | str], dict[str, Any] | None,
                          dict[str, Any]]] = []

        def adopt(kind: str, rid: int, state: dict[str, Any]) -> None:
            limit = below[kind]
            if rid in replay.expected[kind] or (limit is not None and rid >= limit):
                return
            counts[kind] += 1
            found.append((pid, f"{kind}.adopted", (kind, rid), state, {"adopted": True}))

        for pk, sha, mid, size in session.execute(
                select(Message.id, Message.sha256, Message.message_id, Message.size)
                .where(Message.project_id == pid).order_by(Message.id)):
            adopt("message", pk, arrival_state(sha, mid, size))
        for row in session.scalars(select(Record).where(Record.project_id == pid)
                                   .order_by(Record.id)):
            adopt("record", row.id, record_state(row))
        for receipt in session.scalars(
                select(Receipt).join(Message, Message.id == Receipt.message_pk)
                .where(Message.project_id == pid).order_by(Receipt.id)):
            adopt("receipt", receipt.id, receipt_state(receipt))
        append_states(session.connection(), found, now=app.clock(), actor=actor)
    return counts
