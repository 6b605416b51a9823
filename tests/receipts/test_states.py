"""The receipt state table (gateway/receipts/states.py): what may move a receipt, and where to."""

from __future__ import annotations

import pytest

from gateway.receipts.states import (
    ALERTING,
    OPEN,
    SETTLED,
    TRANSITIONS,
    Cause,
    ReceiptStatus,
    allowed,
    is_open,
)

S = ReceiptStatus


def test_every_state_is_open_or_settled_never_both() -> None:
    assert set(S) == OPEN | SETTLED and not OPEN & SETTLED
    assert ALERTING <= OPEN


@pytest.mark.parametrize("before", [S.PENDING, S.READ, S.CONFIRMED, S.QUESTIONED, S.DECLINED])
def test_a_reply_moves_any_answerable_receipt_to_any_other_answer(before: S) -> None:
    for after in (S.CONFIRMED, S.QUESTIONED, S.DECLINED):
        assert allowed(before, after, Cause.REPLY) == (after != before)


def test_confirmed_is_not_final() -> None:
    assert allowed("confirmed", "declined", Cause.REPLY)
    assert allowed("confirmed", "questioned", Cause.REPLY)


def test_a_read_receipt_only_moves_pending_to_read() -> None:
    assert [s for s in S if allowed(s, "read", Cause.MDN)] == [S.PENDING]
    assert not any(allowed(s, t, Cause.MDN) for s in S for t in S if t != S.READ)


def test_mail_never_waives_and_never_moves_a_waived_receipt() -> None:
    assert not any(allowed(s, "waived", Cause.REPLY) for s in S)
    assert not any(allowed("waived", t, Cause.REPLY) for t in S)
    assert allowed("waived", "confirmed", Cause.MANUAL)


def test_nobody_moves_a_receipt_to_pending_or_where_it_is() -> None:
    for (before, _cause), targets in TRANSITIONS.items():
        assert S.PENDING not in targets and before not in targets


def test_unknown_states_are_refused() -> None:
    assert not allowed("lost", "confirmed", Cause.MANUAL)
    assert not allowed("pending", "lost", Cause.MANUAL)
    assert not is_open("lost") and is_open("declined") and not is_open("waived")
