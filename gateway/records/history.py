"""A record's history: every kind of entry, and one way to say each in zh-CN and English.

``records.history`` is a JSON list; each entry has an ``event`` (older rows written before the
field existed may lack it: a category change then). The record stage writes ``category`` and
``conclusion`` entries, corrections (gateway/records/edit.py, reclassify.py) write ``merged``,
``split`` and ``reclassified``. Forms, the archive and ``records show`` render entries only
through :func:`describe`, so a new kind of entry — or a damaged one — never breaks a template:
unknown kinds are shown with their fields, and a missing field is an empty string.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

KINDS = ("category", "conclusion", "merged", "split", "reclassified")

Label = Callable[[Any], str]
When = Callable[[Any], str]


def kind(entry: Mapping[str, Any]) -> str:
    """The entry's kind; entries from before ``event`` existed are category changes."""
    event = entry.get("event")
    if isinstance(event, str) and event:
        return event
    return "category" if "category" in entry else "unknown"


def _s(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _changes(entry: Mapping[str, Any], label: Label, lang: str) -> str:
    before = entry.get("before") if isinstance(entry.get("before"), dict) else {}
    after = entry.get("after") if isinstance(entry.get("after"), dict) else {}
    assert isinstance(before, dict) and isinstance(after, dict)
    parts = []
    for key in sorted(after):
        old, new = before.get(key), after[key]
        parts.append(f"{label(key)}: {label(old)} → {label(new)}")
    return ("；" if lang == "zh-CN" else "; ").join(parts)


def describe(entry: Any, *, lang: str, label: Label, when: When) -> str:
    """One line for one history entry, in ``lang`` (zh-CN first, English second)."""
    if not isinstance(entry, Mapping):
        return str(entry)
    zh = lang == "zh-CN"
    try:
        at = when(entry.get("at")) if entry.get("at") else ""
    except (TypeError, ValueError):  # not an ISO time: shown as stored
        at = _s(entry, "at")
    by = _s(entry, "by") or _s(entry, "changed_by")
    what = kind(entry)
    if what == "conclusion":
        text = (f"结论由 {by} 确定：{_s(entry, 'conclusion')}" if zh
                else f"conclusion set by {by}: {_s(entry, 'conclusion')}")
    elif what == "category":
        to = label(entry["to"]) if entry.get("to") else ""
        text = (f"类别由“{label(_s(entry, 'category'))}”变为“{to}”（邮件 {by}）" if zh
                else f"category changed from “{label(_s(entry, 'category'))}” to “{to}” "
                     f"(message {by})")
    elif what == "merged":
        text = (f"并入记录 #{_s(entry, 'merged_record')}（{_s(entry, 'subject')}）" if zh
                else f"merged record #{_s(entry, 'merged_record')} ({_s(entry, 'subject')})")
        if by:
            text += f"，操作人 {by}" if zh else f", by {by}"
    elif what == "split":
        count = len(entry.get("message_ids") or [])
        if entry.get("to_record") is not None:
            text = (f"{count} 封邮件拆分到记录 #{_s(entry, 'to_record')}，操作人 {by}" if zh
                    else f"{count} message(s) split off into record #{_s(entry, 'to_record')}"
                         f", by {by}")
        else:
            text = (f"由记录 #{_s(entry, 'from_record')} 拆分而来，操作人 {by}" if zh
                    else f"split off record #{_s(entry, 'from_record')}, by {by}")
    elif what == "reclassified":
        changes = _changes(entry, label, lang)
        note = _s(entry, "note")
        text = (f"{by} 重新分类：{changes}" + (f"（说明：{note}）" if note else "") if zh
                else f"reclassified by {by}: {changes}" + (f" (note: {note})" if note else ""))
    else:
        fields = ", ".join(f"{k}={_s(entry, k)}" for k in sorted(entry) if k not in ("at",))
        text = f"{what}: {fields}"
    return f"{at} {text}".strip()


def describe_all(history: Any, *, lang: str, label: Label, when: When) -> list[str]:
    """Every entry of a record's history, oldest first (a non-list history is shown as one)."""
    entries = history if isinstance(history, list) else [history] if history else []
    return [describe(e, lang=lang, label=label, when=when) for e in entries]
