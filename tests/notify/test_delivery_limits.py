"""Exactly once to the Maildir, and a rate limit that defers (issue 16).

A crash between writing the Maildir file and the "sent" commit, then a retry after the lease ran
out, still leaves one file. A mail over the per-recipient hourly limit waits for the next window
instead of being dropped, and reminders and escalations have their own allowance."""

from __future__ import annotations

import mailbox
import stat
from collections.abc import Callable, Iterator

import pytest

import gateway.notify.outbox as outbox
from gateway.app import App
from gateway.notify.outbox import deliver_due, queue
from gateway.notify.transport import MaildirTransport, maildir_name
from gateway.store.db import unit_of_work
from gateway.testing.clock import FakeClock
from tests.notify.test_outbox import CLIENT, ENGINEER, _mail, _queue, _row


class Crash(BaseException):
    """The process dies: nothing after this runs (not an Exception, nothing catches it)."""


@pytest.fixture
def crash_before_commit(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The first delivery dies after the transport wrote, before the outcome is committed."""
    real = outbox._record
    calls = {"n": 0}

    def record(*args: object, **kwargs: object) -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise Crash()
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(outbox, "_record", record)
    yield


def test_a_retry_after_a_crash_does_not_deliver_twice(embedded_app: App, clock: FakeClock,
                                                      crash_before_commit: None) -> None:
    # Given a mail to two people
    pk = _queue(embedded_app, "k1", to=(CLIENT, ENGINEER))
    # When the delivery dies between the Maildir write and the "sent" commit
    with pytest.raises(Crash):
        deliver_due(embedded_app, now=clock())
    assert _row(embedded_app, pk).state == "sending"
    # And another sweep takes the row again once its lease ran out
    later = clock.advance(seconds=embedded_app.settings.gateway.outbound.lease_seconds + 1)
    assert deliver_due(embedded_app, now=later) == 1
    # Then the row is sent, and the Maildir holds it once
    assert _row(embedded_app, pk).state == "sent"
    box = mailbox.Maildir(embedded_app.settings.outbox_dir, create=False)
    assert len(box.keys()) == 1
    [path] = (embedded_app.settings.outbox_dir / "new").iterdir()
    assert path.name == maildir_name(str(pk), [CLIENT, ENGINEER])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list((embedded_app.settings.outbox_dir / "tmp").iterdir()) == []


def test_a_file_a_reader_moved_to_cur_still_counts(embedded_app: App) -> None:
    # Given the mail was delivered and a mail reader has seen it (new/ → cur/, with flags)
    transport = MaildirTransport(embedded_app.settings.outbox_dir)
    transport.send(envelope_from="proj-demo@gw.example.com", recipients=[CLIENT],
                   raw=b"Subject: x\r\n\r\nbody\r\n", key="7")
    box = mailbox.Maildir(embedded_app.settings.outbox_dir, create=False)
    [key] = box.keys()
    message = box[key]
    message.set_subdir("cur")
    message.add_flag("S")
    box[key] = message
    assert list((embedded_app.settings.outbox_dir / "new").iterdir()) == []
    # When the same row is delivered again, Then no second copy appears
    replies = transport.send(envelope_from="proj-demo@gw.example.com", recipients=[CLIENT],
                             raw=b"Subject: x\r\n\r\nbody\r\n", key="7")
    assert replies[CLIENT].accepted
    assert len(mailbox.Maildir(embedded_app.settings.outbox_dir, create=False).keys()) == 1


def _queue_kind(app: App, key: str, kind: str, to: str) -> int:
    with unit_of_work(app.sessions) as session:
        return queue(session, project_id=app.project_ids["demo"], kind=kind,
                     idempotency_key=key, message=_mail(app, f"{kind} {key}", (to,)),
                     recipients=[to], now=app.clock()).id


def test_a_rate_limit_defers_and_escalations_have_their_own_allowance(
        make_app: Callable[..., App], clock: FakeClock) -> None:
    # Given a limit of 2 mails per recipient and hour
    app = make_app(COMMGATE_OUTBOUND__RATE_LIMIT_PER_RECIPIENT="2")
    manager = "wangqiang@xdyj.example.com"
    # When spoofed traffic makes the gateway write to the manager three times in an hour
    noise = [_queue_kind(app, f"n{i}", "receipt_answer", manager) for i in range(3)]
    deliver_due(app, now=clock())
    # Then the third waits for the next window instead of being dropped
    assert [_row(app, pk).state for pk in noise] == ["sent", "sent", "retry"]
    assert _row(app, noise[2]).recipients[0].state == "pending"
    # And an escalation to the manager in the same hour still goes out at once
    escalation = _queue_kind(app, "e1", "escalation", manager)
    reminder = _queue_kind(app, "r1", "reminder", manager)
    assert deliver_due(app, now=clock.advance(minutes=5)) == 2
    assert _row(app, escalation).state == "sent" and _row(app, reminder).state == "sent"
    # And the waiting mail is sent in the next window, once
    assert deliver_due(app, now=clock.advance(minutes=55)) == 1
    assert _row(app, noise[2]).state == "sent"
    assert len(mailbox.Maildir(app.settings.outbox_dir, create=False).keys()) == 5
