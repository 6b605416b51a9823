"""Replaying the audit chain: what each message, record and receipt row must be, and every row
that is not what the chain says (the heart of ``audit verify``, gateway/audit/verify.py).

Pure: :class:`Replay` is fed the chain's entries in seq order (the same pass that checks the
hashes) and remembers, per tracked row (gateway/audit/state.py), the state the last event about
it left — or that it is gone (an event with ``state: null``, or a retention purge naming its id
in ``deleted``). Then it is shown the current rows and names:

* a row the chain never mentions — a message without its arrival event, a receipt or record
  inserted outside the gateway;
* a row whose tracked state differs from the chain's (a receipt set to ``confirmed`` by SQL);
* a row the chain expects but that is gone, with no purge naming it (a message deleted);
* a change the gateway made to a row that was not, at that moment, what the chain said — so a
  tampered row stays named even after the gateway changed it again.

Each :class:`Finding` reads in zh-CN first, then English.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gateway.audit.state import TRACKED, State, expand

LABEL = {"message": ("邮件", "message"), "record": ("记录", "record"),
         "receipt": ("回执", "receipt")}


@dataclass(frozen=True)
class Finding:
    """One row (or anchor, or chain position) the chain does not explain."""

    subject: str  # "receipt 12", "anchor line 3", "audit seq 7"
    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.zh} | {self.en}"


@dataclass
class _Expected:
    state: State | None  # None: the row must be gone
    seq: int


def _fmt(value: Any) -> str:
    return "null" if value is None else repr(value)


def _diff(chain: State, row: State) -> tuple[str, str]:
    fields = sorted(set(chain) | set(row))
    parts = [(name, chain.get(name), row.get(name)) for name in fields
             if chain.get(name) != row.get(name)]
    zh = "；".join(f"{n} 链上为 {_fmt(a)}，当前为 {_fmt(b)}" for n, a, b in parts)
    en = "; ".join(f"{n}: chain {_fmt(a)}, row {_fmt(b)}" for n, a, b in parts)
    return zh, en


@dataclass
class Replay:
    expected: dict[str, dict[int, _Expected]] = field(
        default_factory=lambda: {kind: {} for kind in TRACKED})
    findings: list[Finding] = field(default_factory=list)

    def feed(self, entry: dict[str, Any]) -> None:
        """One chain entry, in seq order."""
        seq, after, before = int(entry["seq"]), entry.get("after"), entry.get("before")
        if not isinstance(after, dict):
            return
        deleted = after.get("deleted")
        if isinstance(deleted, dict):
            for kind, text in deleted.items():
                if kind in self.expected and isinstance(text, str):
                    try:
                        for rid in expand(text):
                            self.expected[kind][rid] = _Expected(None, seq)
                    except ValueError:
                        continue
        kind = entry.get("subject_type")
        if kind not in self.expected or "state" not in after:
            return
        try:
            rid = int(entry["subject_id"])
        except (TypeError, ValueError):
            return
        if isinstance(before, dict) and "state" in before:
            self._check_before(kind, rid, seq, before["state"])
        state = after["state"]
        self.expected[kind][rid] = _Expected(state if isinstance(state, dict) else None, seq)

    def _check_before(self, kind: str, rid: int, seq: int, found: Any) -> None:
        prior = self.expected[kind].get(rid)
        if prior is not None and prior.state == found:
            return
        zh_label, en_label = LABEL[kind]
        if prior is None or prior.state is None:
            what = ("审计链中此前没有它" if prior is None
                    else f"审计链在 seq {prior.seq} 已将其删除")
            what_en = ("the chain had no earlier event for it" if prior is None
                       else f"the chain deleted it at seq {prior.seq}")
            self.findings.append(Finding(
                f"{kind} {rid}",
                f"{zh_label} {rid}：seq {seq} 的变更作用于一个{what}的行（在网关之外插入）",
                f"{en_label} {rid}: the change at seq {seq} found a row though {what_en} "
                f"(inserted outside the gateway)"))
            return
        zh, en = _diff(prior.state, found if isinstance(found, dict) else {})
        self.findings.append(Finding(
            f"{kind} {rid}",
            f"{zh_label} {rid}：在 seq {prior.seq} 与 seq {seq} 之间在网关之外被修改（{zh}）",
            f"{en_label} {rid}: changed outside the gateway between seq {prior.seq} and "
            f"seq {seq} ({en})"))

    def check_rows(self, kind: str, rows: Iterable[tuple[int, State, str]]) -> None:
        """The current rows of ``kind``: (id, tracked state, a name for people, e.g. <msg-id>).

        Each row is compared once; call :meth:`missing` after all rows of a kind were seen.
        """
        expected = self.expected[kind]
        zh_label, en_label = LABEL[kind]
        for rid, state, name in rows:
            shown = f"{rid} {name}".rstrip()
            exp = expected.pop(rid, None)
            if exp is None:
                if kind == "message":
                    self.findings.append(Finding(
                        f"{kind} {rid}",
                        f"邮件 {shown}：审计链中没有它的到达事件（在网关之外插入）",
                        f"message {shown}: no arrival event in the audit chain (inserted "
                        f"outside the gateway)"))
                else:
                    self.findings.append(Finding(
                        f"{kind} {rid}", f"{zh_label} {shown}：审计链中没有它（在网关之外插入）",
                        f"{en_label} {shown}: not in the audit chain (inserted outside the "
                        f"gateway)"))
            elif exp.state is None:
                self.findings.append(Finding(
                    f"{kind} {rid}",
                    f"{zh_label} {shown}：审计链在 seq {exp.seq} 已将其删除，"
                    f"但它仍在（在网关之外恢复）",
                    f"{en_label} {shown}: deleted by the chain at seq {exp.seq} but present "
                    f"(restored outside the gateway)"))
            elif exp.state != state:
                zh, en = _diff(exp.state, state)
                self.findings.append(Finding(
                    f"{kind} {rid}",
                    f"{zh_label} {shown}：与审计链不符，在网关之外被修改"
                    f"（{zh}；最后事件 seq {exp.seq}）",
                    f"{en_label} {shown}: not what the audit chain says, changed outside the "
                    f"gateway ({en}; last event seq {exp.seq})"))

    def missing(self, kind: str) -> None:
        """Rows of ``kind`` the chain expects but :meth:`check_rows` was not shown."""
        zh_label, en_label = LABEL[kind]
        for rid, exp in sorted(self.expected[kind].items()):
            if exp.state is None:
                continue
            extra = f" <{exp.state['message_id']}>" if kind == "message" else ""
            self.findings.append(Finding(
                f"{kind} {rid}",
                f"{zh_label} {rid}{extra}：已不存在，但审计链中没有删除它的事件（在网关之外删除；"
                f"最后事件 seq {exp.seq}）",
                f"{en_label} {rid}{extra}: gone, but no event of the chain deleted it (deleted "
                f"outside the gateway; last event seq {exp.seq})"))
        self.expected[kind].clear()
