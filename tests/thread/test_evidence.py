"""Building evidence from parsed headers: ids normalised, ordered, de-duplicated and capped."""

from __future__ import annotations

from datetime import datetime

from gateway.thread.evidence import MAX_REFERENCES, evidence, links
from tests.thread.mail import msg


def test_in_reply_to_is_the_parent_and_goes_last() -> None:
    ev = msg("c", refs="a b", irt="a")
    assert ev.references == ("b@x", "a@x")
    assert links(ev)[-1] == ("c@x", "a@x", True)


def test_ids_are_normalised_and_self_references_dropped() -> None:
    ev = evidence(message_id="<Me@EXAMPLE.com>", in_reply_to=["<p@Host.COM>"],
                  references=["<me@example.com>", "<Me@example.COM>", "<p@host.com>", "",
                              "<has space@x>"],
                  subject="Re: x", date=datetime(2024, 1, 1), thread_index=None,
                  thread_topic=None, project_code=None)
    assert ev.message_id == "Me@example.com"
    assert ev.references == ("me@example.com", "p@host.com")
    assert ev.date is not None and ev.date.tzinfo is not None  # naive dates are read as UTC


def test_links_chain_references_as_jwz_parents() -> None:
    assert links(msg("d", refs="a b c")) == [
        ("a@x", None, False), ("b@x", "a@x", False), ("c@x", "b@x", False), ("d@x", "c@x", True)]


def test_huge_references_are_capped() -> None:
    refs = " ".join(f"r{i}" for i in range(20_000))
    ev = msg("z", refs=refs, irt="r19999")
    assert len(ev.references) == MAX_REFERENCES
    assert ev.references[0] == "r0@x"  # the root names the thread even midway
    assert ev.references[-1] == "r19999@x"


def test_reply_hint_from_thread_index_child_blocks() -> None:
    import base64

    child = base64.b64encode(bytes(27)).decode()
    assert msg("a", subject="周报", thread_index=child).is_reply
    assert not msg("a", subject="周报").is_reply
    assert msg("a", subject="", topic="周报").subject_key == "周报"
