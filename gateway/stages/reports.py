"""The ``reports`` stage, after ``notify`` (policy 4.2.2, 4.3): a special report for a record
that is a risk, or an urgent incident.

:func:`gateway.reports.special.special_report` decides whether the record calls for one and
queues it once per record (``report_runs`` key ``record:<id>``), in the same transaction as the
message's processing: leadership for a risk; leadership, the project manager and the O&M
department manager for an urgent incident. Automated mail never triggers one (a bounce or an
auto-reply pages nobody, issue 16), and a message without a record has nothing to report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.parse.automated import is_automated
from gateway.reports.special import special_report

if TYPE_CHECKING:  # the pipeline imports the stages; the stages only name its Context
    from gateway.pipeline.context import Context


def run(ctx: Context) -> None:
    """Queue the record's special report if it calls for one."""
    if ctx.record is not None and not is_automated(ctx.parsed_message()):
        special_report(ctx.app, ctx.session, project=ctx.project, record=ctx.record,
                       now=ctx.app.clock())
