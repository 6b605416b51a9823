"""Threading stories, each told to the in-memory threader, SQLite and PostgreSQL alike."""

from __future__ import annotations

import base64

import pytest

from tests.thread.conftest import Driver
from tests.thread.mail import mid, msg

OUTLOOK = bytes(range(1, 23))


def outlook_index(children: int = 0) -> str:
    return base64.b64encode(OUTLOOK + bytes(5 * children)).decode()


def test_a_reply_joins_its_parent(threader: Driver) -> None:
    first = threader.add(msg("a"))
    reply = threader.add(msg("b", irt="a", subject="Re: hello"))
    assert (first.created, first.via) == (True, "new")
    assert (reply.created, reply.via, reply.thread_id) == (False, "references", first.thread_id)


def test_midway_replies_meet_in_a_phantom_parent(threader: Driver) -> None:
    # Given the gateway was CC'd only from the second reply on: "a" is never seen
    b = threader.add(msg("b", refs="a"))
    c = threader.add(msg("c", refs="a b"))
    d = threader.add(msg("d", refs="a"))  # a sibling that never heard of "b"
    assert b.thread_id == c.thread_id == d.thread_id
    assert threader.thread_of(mid("a")) == b.thread_id  # the phantom container
    # When the root finally arrives it fills its phantom container
    a = threader.add(msg("a"))
    assert (a.thread_id, a.via) == (b.thread_id, "references")
    assert threader.groups() == [{mid("a"), mid("b"), mid("c"), mid("d")}]


def test_a_later_message_merges_two_threads_into_the_older(threader: Driver) -> None:
    x = threader.add(msg("x", refs="p1"))
    y = threader.add(msg("y", refs="p2"))
    assert x.thread_id != y.thread_id
    z = threader.add(msg("z", refs="p1 p2"))
    assert (z.thread_id, z.merged) == (x.thread_id, [y.thread_id])
    assert threader.thread_of(mid("y")) == x.thread_id
    assert threader.thread_of(mid("p2")) == x.thread_id
    later = threader.add(msg("w", irt="y"))  # a reply to the absorbed side lands in the keeper
    assert (later.thread_id, later.merged) == (x.thread_id, [])


def test_threading_the_same_message_twice_changes_nothing(threader: Driver) -> None:
    first = threader.add(msg("a", refs="r"))
    again = threader.add(msg("a", refs="r"))
    assert (again.thread_id, again.created, again.merged) == (first.thread_id, False, [])
    assert threader.groups() == [{mid("a")}]


def test_weekly_report_subject_starts_a_new_thread_each_week(threader: Driver) -> None:
    week1 = threader.add(msg("w1", subject="周报"))
    week2 = threader.add(msg("w2", subject="周报", days=7))
    assert week2.thread_id != week1.thread_id  # same subject, no prefix: never joined
    # A QQ Mail reply carries no In-Reply-To/References at all, only the prefix
    qq = threader.add(msg("qq", subject="回复：周报", days=8))
    assert (qq.thread_id, qq.via) == (week2.thread_id, "subject")
    late = threader.add(msg("late", subject="Re: 周报", days=8 + 30))
    assert late.via == "new"  # outside the 14-day window
    forward = threader.add(msg("fw", subject="Fwd: 周报", days=9))
    assert forward.via == "new"  # a forward starts a conversation with someone else


def test_subject_fallback_never_overrides_references(threader: Driver) -> None:
    report = threader.add(msg("w1", subject="周报"))
    other = threader.add(msg("o1", refs="elsewhere", subject="Re: 周报"))
    assert other.via == "new" and other.thread_id != report.thread_id


def test_outlook_thread_index_threads_replies_without_references(threader: Driver) -> None:
    first = threader.add(msg("o1", subject="Server room", thread_index=outlook_index()))
    reply = threader.add(msg("o2", subject="答复: Server room (changed)",
                             thread_index=outlook_index(children=1)))
    assert (reply.thread_id, reply.via) == (first.thread_id, "thread-index")
    unknown_refs = threader.add(msg("o3", refs="never-seen", subject="x",
                                    thread_index=outlook_index(children=2)))
    assert (unknown_refs.thread_id, unknown_refs.via) == (first.thread_id, "thread-index")


def test_thread_index_does_not_merge_threads_that_references_keep_apart(
        threader: Driver) -> None:
    first = threader.add(msg("o1", thread_index=outlook_index()))
    other = threader.add(msg("b1"))
    reply = threader.add(msg("b2", irt="b1", thread_index=outlook_index(children=1)))
    assert (reply.thread_id, reply.merged) == (other.thread_id, [])
    assert threader.thread_of(mid("o1")) == first.thread_id


def test_our_record_code_joins_the_record(threader: Driver) -> None:
    notice = threader.add(msg("n1", subject="[demo#R42] 变更通知"))
    threader.record_thread = {42: notice.thread_id}.get
    reply = threader.add(msg("r1", subject="回复：[demo#R42] 变更通知", days=40))
    assert (reply.thread_id, reply.via) == (notice.thread_id, "record-code")
    unknown = threader.add(msg("r2", subject="[demo#R43] 别的"))
    assert unknown.via == "new"


@pytest.mark.parametrize("refs_kept", [0, 50])
def test_a_long_chain_threads_in_linear_time(threader: Driver, refs_kept: int) -> None:
    # Each message names its parent, and optionally the root and its 50 nearest ancestors
    # (as the parse stage keeps them): cost must grow with messages × references, not depth.
    depth = 20_000 if threader.name == "memory" else 300
    chain = [f"m{i}" for i in range(depth)]
    mail = [msg(name, refs=" ".join(chain[:1] + chain[max(1, i - refs_kept):i]) if refs_kept
                else "", irt=chain[i - 1] if i else "") for i, name in enumerate(chain)]
    # (its speed is measured by bench/threading.py; tests hold no timing thresholds)
    threads = {threader.add(ev).thread_id for ev in mail}
    assert len(threads) == 1
