"""Suppressions on both databases (issue 16): time-limited, extended never shortened, lifted by
hand, and never holding back the receipt ladder (reminders and escalations)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.app import App
from gateway.notify.bounces import active_suppressions, is_suppressed, lift, suppress
from gateway.notify.compose import compose
from gateway.notify.outbox import queue
from gateway.store.db import unit_of_work

VENDOR = "support@vendor.example.net"
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def _queue(app: App, kind: str, key: str) -> dict[str, str]:
    settings = app.settings
    project = settings.project("demo")
    message = compose(settings=settings, project=project, sender=project.address, to=[VENDOR],
                      subject="巡检提醒", text="请回复确认。\n", html=None, automated=True)
    with unit_of_work(app.sessions) as session:
        mail = queue(session, project_id=app.project_ids["demo"], kind=kind,
                     idempotency_key=key, message=message, recipients=[VENDOR], now=NOW)
        return {r.address: r.state for r in mail.recipients}


def test_a_suppression_lasts_its_days_holds_back_answers_but_never_the_ladder(
        embedded_app: App) -> None:
    app, project_id = embedded_app, embedded_app.project_ids["demo"]
    with unit_of_work(app.sessions) as session:
        assert suppress(session, project_id=project_id, address=VENDOR, reason="auto-reply",
                        now=NOW, until=NOW + timedelta(days=7))
        # a second auto-reply a day later extends it; an earlier end never shortens it
        assert not suppress(session, project_id=project_id, address=VENDOR, reason="again",
                            now=NOW + timedelta(days=1), until=NOW + timedelta(days=8))
        assert not suppress(session, project_id=project_id, address=VENDOR, reason="early",
                            now=NOW + timedelta(days=1), until=NOW + timedelta(days=2))
    with unit_of_work(app.sessions) as session:
        assert is_suppressed(session, project_id=project_id, address=VENDOR,
                             now=NOW + timedelta(days=7, hours=23))
        assert not is_suppressed(session, project_id=project_id, address=VENDOR,
                                 now=NOW + timedelta(days=8, seconds=1))
    # while it lasts, an automatic answer is held back; a reminder and an escalation are not
    assert _queue(app, "receipt_answer", "k1") == {VENDOR: "suppressed"}
    assert _queue(app, "reminder", "k2") == {VENDOR: "pending"}
    assert _queue(app, "escalation", "k3") == {VENDOR: "pending"}
    # lifted by hand, it is gone at once
    with unit_of_work(app.sessions) as session:
        assert lift(session, project_id=project_id, address=VENDOR)
        assert active_suppressions(session, project_id=project_id, now=NOW) == []
        assert not lift(session, project_id=project_id, address=VENDOR)
    assert _queue(app, "receipt_answer", "k4") == {VENDOR: "pending"}
