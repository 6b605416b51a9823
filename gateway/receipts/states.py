"""The receipt's states and the moves between them: one table for replies, people and the ladder.

A receipt (one recipient's confirmation of one message, DESIGN §3) is in exactly one state.
What may move it, and where to, is :func:`allowed` over :data:`TRANSITIONS` — the receipts stage
(a reply, an MDN, gateway/receipts/answers.py), a person (``commgate receipts set|waive``,
gateway/receipts/manual.py), a record reclassified (gateway/records/reclassify.py) and the
scheduler (gateway/jobs/scheduler.py, which only asks :func:`is_open`) all go through it:

============  =================================  ===========================================
from          a reply's reading / an MDN          a person
============  =================================  ===========================================
pending       confirmed, questioned, declined;    confirmed, questioned, declined, waived
              MDN → read
read          confirmed, questioned, declined     confirmed, questioned, declined, waived
confirmed     questioned, declined                questioned, declined, waived
questioned    confirmed, declined                 confirmed, declined, waived
declined      confirmed, questioned               confirmed, questioned, waived
waived        — (noted only: nobody owes it)      confirmed, questioned, declined
============  =================================  ===========================================

A record reclassified as needing no receipts (``records reclassify --receipt-required false``,
cause ``record``) moves each open receipt to ``withdrawn`` — no answer, nobody owes it, outside
the answer states above (:data:`WITHDRAWALS`); needing them again moves it back to ``pending``.
Nothing else moves a withdrawn receipt.

The latest answer decides (DESIGN §4.5): ``confirmed`` is not final, a later question or refusal
moves it back. Open states are chased by the ladder; ``confirmed`` and ``waived`` are settled,
and a request whose receipts are all settled is closed. A move into an alerting state
(questioned, declined) tells the directive's author at once.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ALERTING", "OPEN", "OPEN_STATUSES", "SETTLED", "TRANSITIONS", "WITHDRAWALS",
           "WITHDRAWN", "Cause", "ReceiptStatus", "allowed", "is_open"]


class ReceiptStatus(StrEnum):
    PENDING = "pending"
    READ = "read"
    CONFIRMED = "confirmed"
    QUESTIONED = "questioned"
    DECLINED = "declined"
    WAIVED = "waived"


class Cause(StrEnum):
    """What moves a receipt: a reply's own text, a read receipt, or a person's decision."""

    REPLY = "reply"
    MDN = "mdn"
    MANUAL = "manual"
    RECORD = "record"  # the record's receipt_required changed (records reclassify)


S = ReceiptStatus
_ANSWERS = frozenset({S.CONFIRMED, S.QUESTIONED, S.DECLINED})

TRANSITIONS: dict[tuple[ReceiptStatus, Cause], frozenset[ReceiptStatus]] = {
    (S.PENDING, Cause.MDN): frozenset({S.READ}),
    **{(s, Cause.REPLY): _ANSWERS - {s} for s in S if s is not S.WAIVED},
    **{(s, Cause.MANUAL): (_ANSWERS | {S.WAIVED}) - {s} for s in S},
}

OPEN = frozenset({S.PENDING, S.READ, S.QUESTIONED, S.DECLINED})
OPEN_STATUSES = tuple(sorted(OPEN))  # the same, as values for a query (the ladder chases them)
SETTLED = frozenset({S.CONFIRMED, S.WAIVED})
ALERTING = frozenset({S.QUESTIONED, S.DECLINED})

WITHDRAWN = "withdrawn"  # a stored status, but no ReceiptStatus: nobody answers into it
WITHDRAWALS: dict[str, frozenset[str]] = {
    **{s.value: frozenset({WITHDRAWN}) for s in OPEN},
    WITHDRAWN: frozenset({S.PENDING.value}),
}


def allowed(before: str, after: str, cause: Cause) -> bool:
    """Whether ``cause`` may move a receipt from ``before`` to ``after`` (a new state)."""
    if cause is Cause.RECORD:
        return after in WITHDRAWALS.get(before, frozenset())
    try:
        return ReceiptStatus(after) in TRANSITIONS.get((ReceiptStatus(before), cause),
                                                       frozenset())
    except ValueError:
        return False


def is_open(status: str) -> bool:
    """Still owed: the ladder reminds and escalates about it."""
    return status in OPEN
