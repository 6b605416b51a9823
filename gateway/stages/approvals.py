"""The ``approvals`` stage, after ``reports`` (issue 7): the owner's reply to a report draft —
"同意发送" / "approve" — sends the report.

:func:`gateway.reports.approval.answer_drafts` finds the drafts the reply threads to (its
In-Reply-To/References name a draft's Message-ID) and judges it: from the owner, authentic, not
automated, and its own text approves without reservation. An approved draft is sent once
(``draft → sent`` by a conditional update); any other reply is noted on the run. Mail imported
with ``--history`` approves nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.reports.approval import answer_drafts

if TYPE_CHECKING:  # the pipeline imports the stages; the stages only name its Context
    from gateway.pipeline.context import Context


def run(ctx: Context) -> None:
    """Apply the message to the report drafts it answers."""
    if ctx.parsed is None:
        return
    answer_drafts(ctx.app, ctx.session, ctx.project, message=ctx.message, parsed=ctx.parsed,
                  raw=ctx.raw, now=ctx.app.clock())
