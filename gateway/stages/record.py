"""The ``record`` stage, after ``classify``: the thread's communication record, opened by its
first message and kept current (gateway/records/store.py).

Ordinary mail opens the thread's record or folds its classification, parties, conclusion and
attachments into it (:func:`gateway.records.store.attach_to_record`); records of threads the
``thread`` stage merged are merged into it with :func:`gateway.records.edit.merge_records`.
Automated mail (issue 16: bounces, MDNs, auto-replies) only joins a record its thread already
has (:func:`gateway.records.store.attach_automated`): it never opens one and never changes what
the record is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.parse.automated import is_automated
from gateway.records.edit import merge_records
from gateway.records.store import attach_automated, attach_to_record

if TYPE_CHECKING:  # the pipeline imports the stages; the stages only name its Context
    from gateway.pipeline.context import Context


def run(ctx: Context) -> None:
    """Attach the message to its thread's record (``ctx.record``; None for automated mail
    whose thread has no record)."""
    parsed = ctx.parsed_message()
    if is_automated(parsed):
        ctx.record = attach_automated(ctx.session, message=ctx.message, thread_id=ctx.thread_id)
        return
    ctx.record = attach_to_record(ctx.session, ctx.project, message=ctx.message, parsed=parsed,
                                  classification=ctx.classified(), thread_id=ctx.thread_id,
                                  merged_threads=ctx.merged_threads, merge=merge_records,
                                  now=ctx.app.clock())
