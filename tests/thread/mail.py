"""Tiny builders for threading evidence, so stories read as mail: ``msg("b", refs="a")``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.thread.evidence import ThreadEvidence, evidence

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)


def msg(mid: str, *, refs: str = "", irt: str = "", subject: str = "hello",
        date: datetime | None = T0, days: float = 0, thread_index: str | None = None,
        topic: str | None = None, code: str | None = "demo") -> ThreadEvidence:
    """``refs``/``irt`` are space-separated ids without brackets; ids get ``@x`` appended."""
    def ids(text: str) -> list[str]:
        return [f"<{part}@x>" for part in text.split()]

    when = date + timedelta(days=days) if date is not None else None
    return evidence(message_id=f"<{mid}@x>", in_reply_to=ids(irt), references=ids(refs),
                    subject=subject, date=when, thread_index=thread_index,
                    thread_topic=topic, project_code=code)


def mid(name: str) -> str:
    return f"{name}@x"
