"""The receipt state table (gateway/receipts/states.py): what may move a receipt, and where to."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from gateway.receipts.moves import move
from gateway.receipts.states import (
    ALERTING,
    OPEN,
    SETTLED,
    TRANSITIONS,
    WITHDRAWALS,
    WITHDRAWN,
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


def test_a_record_reclassified_withdraws_open_receipts_and_brings_them_back() -> None:
    # Given a record that no longer needs receipts: every open receipt, and only those, may go
    assert [s for s in S if allowed(s, WITHDRAWN, Cause.RECORD)] == [s for s in S if is_open(s)]
    # And needing them again brings a withdrawn receipt back to pending, and nowhere else
    assert WITHDRAWALS[WITHDRAWN] == {S.PENDING}
    assert not allowed(WITHDRAWN, "confirmed", Cause.RECORD)
    # Nobody answers a withdrawn receipt, and the record moves nothing but withdrawals
    assert not any(allowed(WITHDRAWN, t, c) for t in S for c in (Cause.REPLY, Cause.MANUAL))
    assert not allowed("pending", "confirmed", Cause.RECORD)


def test_a_disallowed_move_is_refused_and_changes_nothing() -> None:
    # Given a waived receipt (nobody owes it)
    receipt = SimpleNamespace(status="waived", needs_review=True)
    request = SimpleNamespace(project_id=1, id=1, withdrawn_at=None)
    events: list[int] = []
    # When a reply reads as "confirmed"
    moved = move(None, None, None, receipt, request,  # type: ignore[arg-type]
                 to="confirmed", cause=Cause.REPLY, key="reply:1:1", kind="confirmed",
                 now=datetime(2026, 11, 24, tzinfo=UTC), events=events, detail={}, text="收到")
    # Then the table refuses it before anything is written
    assert moved is False and events == []
    assert receipt.status == "waived" and receipt.needs_review is True
