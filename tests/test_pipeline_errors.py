"""Errors name the mail and the stage: the pipeline driver fills them in, str() shows them, and
outside the pipeline every message reads as it always did."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import gateway.pipeline
from gateway.app import App
from gateway.errors import (
    AppNotBound,
    GatewayError,
    OutboxBusy,
    Quarantine,
    StoreError,
)
from gateway.inbound.intake import accept
from gateway.pipeline import process
from gateway.pipeline.context import Context
from gateway.store.db import unit_of_work
from gateway.store.models import Message
from tests.support.mail import make_mail


def test_an_error_outside_the_pipeline_reads_as_before() -> None:
    error = StoreError("cannot write raw message: disk full", hint="free some space")
    assert str(error) == "cannot write raw message: disk full (hint: free some space)"
    assert error.message_id is None and error.stage is None


def test_a_named_error_leads_with_its_mail_and_stage() -> None:
    # Given an error the driver names
    error = StoreError("database unavailable").at(message_id="m1@host", stage="receipts")
    # Then str() leads with both, and the reason alone is still there
    assert str(error) == "<m1@host> at receipts: database unavailable"
    assert error.reason == "database unavailable"
    # And naming it again keeps what it already named
    error.at(message_id="other@host", stage="notify")
    assert (error.message_id, error.stage) == ("m1@host", "receipts")


def test_a_signal_keeps_the_stage_it_was_raised_with() -> None:
    signal = Quarantine("message too large", stage="parse").at(message_id="m2@host",
                                                               stage="thread")
    assert signal.stage == "parse"
    assert str(signal) == "<m2@host> at parse: message too large"


def test_stray_errors_are_in_the_tree_and_still_what_callers_catch() -> None:
    busy = OutboxBusy("outbox 7 is being sent right now")
    assert isinstance(busy, GatewayError) and isinstance(busy, ValueError)
    assert str(busy) == "outbox 7 is being sent right now"
    assert isinstance(AppNotBound("no App bound"), RuntimeError)


def _accept(app: App, message_id: str) -> int:
    raw = bytes(make_mail(subject="核心交换机巡检", message_id=f"<{message_id}>"))
    return accept(app, project="demo", raw=raw, channel="smtp", will_enqueue=False).message_pk


def test_a_store_error_from_a_stage_names_the_mail_and_the_stage(
        gateway_app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a receipts stage whose database write fails
    def failing(ctx: Context) -> None:
        raise StoreError("database unavailable")

    stages = tuple((name, failing if name == "receipts" else run)
                   for name, run in gateway.pipeline.STAGES)
    monkeypatch.setattr(gateway.pipeline, "STAGES", stages)
    pk = _accept(gateway_app, "store-error@xdyj.example.com")
    # When the message is processed, the error reaches the job (which retries) named
    with pytest.raises(StoreError) as raised:
        process(gateway_app, pk)
    assert raised.value.message_id == "store-error@xdyj.example.com"
    assert raised.value.stage == "receipts"
    assert str(raised.value) == "<store-error@xdyj.example.com> at receipts: database unavailable"


def test_a_quarantine_keeps_its_recorded_reason(gateway_app: App,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a record stage that refuses the message
    def refusing(ctx: Context) -> None:
        raise Quarantine("no thread", stage="record", hint="replay it")

    stages = tuple((name, refusing if name == "record" else run)
                   for name, run in gateway.pipeline.STAGES)
    monkeypatch.setattr(gateway.pipeline, "STAGES", stages)
    pk = _accept(gateway_app, "refused@xdyj.example.com")
    # When it is processed, it is quarantined with the stage and reason, as always
    assert process(gateway_app, pk) == "quarantined"
    with unit_of_work(gateway_app.sessions) as s:
        error = s.scalars(select(Message.error).where(Message.id == pk)).one()
    assert error == "record: no thread (hint: replay it)"
