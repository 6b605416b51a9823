"""The ``thread`` stage, after ``parse``: which conversation the message belongs to.

The pure part is :func:`gateway.thread.evidence.evidence` (Message-ID, In-Reply-To, References,
subject, Outlook's Thread-Index/Thread-Topic); :func:`gateway.thread.assign.assign_thread` finds or
opens the thread row with it, merging threads that References prove are one
(``ctx.merged_threads``, whose records the ``record`` stage merges). A record code in the subject
(``[demo#R42]``) leads to that record's thread (:func:`gateway.records.edit.record_thread_lookup`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.records.edit import record_thread_lookup
from gateway.thread.assign import assign_thread
from gateway.thread.evidence import evidence

if TYPE_CHECKING:  # the pipeline imports the stages; the stages only name its Context
    from gateway.pipeline.context import Context


def run(ctx: Context) -> None:
    """Assign the message to a thread; note the threads merged into it."""
    p = ctx.parsed_message()
    ev = evidence(message_id=ctx.message.message_id, in_reply_to=p.in_reply_to,
                  references=p.references, subject=p.subject, date=p.date,
                  thread_index=p.thread_index, thread_topic=p.thread_topic,
                  project_code=ctx.project.code)
    assignment = assign_thread(
        ctx.session, project_id=ctx.message.project_id, evidence=ev, now=ctx.app.clock(),
        record_thread=record_thread_lookup(ctx.session, ctx.message.project_id))
    ctx.thread_id = assignment.thread_id
    ctx.merged_threads = list(assignment.merged)
    ctx.message.thread_id = assignment.thread_id
