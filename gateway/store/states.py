"""Every value a state or code column may hold: the models turn each into a CHECK constraint.

The database refuses anything else (migration 0003 writes the same lists as literals, so a
migration's meaning never changes when these do: a new value needs a new revision). The domain
words are DESIGN.md §3's.
"""

from __future__ import annotations

from collections.abc import Sequence

MESSAGE_STATES = ("received", "processed", "quarantined", "discarded")
RECEIPT_STATUSES = ("pending", "read", "confirmed", "questioned", "declined", "withdrawn",
                    "waived")
OUTBOX_STATES = ("queued", "sending", "retry", "sent", "failed")
OUTBOX_RECIPIENT_STATES = ("pending", "sent", "failed", "suppressed", "limited", "bounced")
CONNECTOR_STATES = ("pending", "sending", "sent", "failed")
REPORT_RUN_STATES = ("draft", "sent", "skipped")
ARCHIVE_KINDS = ("manual", "periodic", "handover")
CATEGORIES = ("directive", "decision", "change_notice", "risk", "incident", "meeting_minutes",
              "report", "work_contact", "inquiry", "general")
GROUPS = ("customer", "leadership", "internal", "procurement", "quality", "hr", "other")
FORMALITIES = ("formal_written", "written", "formal_oral", "informal_oral")
URGENCIES = ("normal", "urgent")


def one_of(column: str, values: Sequence[str]) -> str:
    """The CHECK condition ``column IN ('a', 'b', …)``."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"
