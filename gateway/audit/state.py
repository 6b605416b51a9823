"""What of a row the audit trail vouches for: the tracked state of messages, records, receipts.

``audit verify`` (gateway/audit/verify.py) replays the chain and compares what it says each row
should be with the row as it is. The chain can only do that for what its events carry, so every
event about one of these rows carries the row's tracked state after the change (``after.state``,
``None`` when the row is gone) and, for a change of an existing row, the state before it
(``before.state``). This module says which columns that is — pure functions of a row, used by
whoever records an event and by the verifier alike, so the two can never disagree.

=========  ====================================================================================
message    ``sha256`` (the raw bytes as received), ``message_id``, ``size``: never change
record     category, stakeholder group, formality, urgency, receipt_required, conclusion (its
           SHA-256: events stay small; the text itself is in ``record.concluded`` events)
receipt    status, recipient, the message it is for
=========  ====================================================================================

Columns that follow from these or are bookkeeping (``messages.state``, ``record.history``,
``receipt.level``, timestamps) are not tracked: changing them misleads nobody about what was
received, decided or confirmed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from gateway.store.models import Message, Receipt, Record

State = dict[str, Any]
TRACKED = ("message", "record", "receipt")


def message_state(row: Message) -> State:
    return arrival_state(row.sha256, row.message_id, row.size)


def arrival_state(sha256: str, message_id: str, size: int) -> State:
    """A message's tracked state from what intake knows before the row exists."""
    return {"sha256": sha256, "message_id": message_id, "size": size}


def _digest(text: str | None) -> str | None:
    return hashlib.sha256(text.encode("utf-8")).hexdigest() if text is not None else None


def record_state(row: Record) -> State:
    return {"category": row.category, "stakeholder_group": row.stakeholder_group,
            "formality": row.formality, "urgency": row.urgency,
            "receipt_required": bool(row.receipt_required),
            "conclusion": _digest(row.conclusion)}


def receipt_state(row: Receipt) -> State:
    return {"status": row.status, "recipient": row.recipient, "message_pk": row.message_pk}


def state_of(row: Message | Record | Receipt) -> State:
    """The tracked state of ``row`` as it is now (after the caller's change)."""
    if isinstance(row, Message):
        return message_state(row)
    if isinstance(row, Record):
        return record_state(row)
    return receipt_state(row)


def subject_of(row: Message | Record | Receipt) -> tuple[str, int]:
    kind = "message" if isinstance(row, Message) else "record" if isinstance(row, Record) \
        else "receipt"
    return kind, row.id


def ranges(ids: list[int]) -> str:
    """``[1,2,3,7]`` → ``"1-3,7"``: a deletion event names every id without growing huge."""
    out: list[list[int]] = []
    for i in sorted(set(ids)):
        if out and out[-1][1] == i - 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in out)


def expand(text: str) -> Iterator[int]:
    """The ids of a :func:`ranges` string."""
    for part in text.split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        yield from range(int(first), int(last or first) + 1)
