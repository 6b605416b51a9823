"""``commgate records conclude|reclassify``: a person corrects what a record says.

``conclude`` sets the record's conclusion (policy 4.4; gateway/records/conclude.py),
``reclassify`` corrects its category, stakeholder group, formality or whether receipts are owed
(policy 4.3; gateway/records/reclassify.py), and every correction retrains the project's model
(issue #22, gateway/records/corrections.py). Both are audited with who did it and why. The
reading commands of the group are in gateway/cli/records.py, which registers these.
"""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.app import App
from gateway.cli.common import fail, guarded, open_app
from gateway.cli.options import Project, address
from gateway.errors import RecordsError
from gateway.records.conclude import conclude_by_hand
from gateway.records.corrections import model_path, retrain
from gateway.records.reclassify import Change, Outcome, reclassify
from gateway.store.db import unit_of_work
from gateway.store.models import Record
from gateway.store.states import CATEGORIES, FORMALITIES, GROUPS


def conclude_record(ctx: typer.Context, record_id: int,
                    text: Annotated[str, typer.Option("--text", help="The conclusion.")],
                    by: Annotated[str | None, typer.Option(
                        "--by", help="Who concluded (default: the project manager).")] = None,
                    project: Annotated[str | None, typer.Option(
                        "--project", "-p", help="Check the record is in this project.")] = None,
                    ) -> None:
    """Set a record's conclusion (policy 4.4); the previous one stays in its history."""
    if not text.strip():
        raise fail("--text is empty: give the conclusion")
    gw = open_app(ctx)
    try:
        with unit_of_work(gw.sessions) as session:
            who = conclude_by_hand(session, gw.settings, record_id=record_id, text=text, by=by,
                                   project=project, now=gw.clock())
    except RecordsError as exc:
        raise fail(str(exc)) from None
    finally:
        gw.close()
    typer.echo(f"record {record_id}: conclusion set by {who}")


def _flag(value: str | None, option: str) -> bool | None:
    if value is None:
        return None
    answer = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
    if value.strip().lower() not in answer:
        raise fail(f"{option} {value!r}: use true or false")
    return answer[value.strip().lower()]


def _relearn(gw: App, project: str) -> None:
    """Every correction is a labelled example: retrain the project's model (issue #22)."""
    with unit_of_work(gw.sessions) as session:
        retrain(session, gw.project_ids[project], model_path(gw.settings.data_dir, project))


def reclassify_command(
        ctx: typer.Context, record_id: int, project: Project,
        by: Annotated[str, typer.Option("--by", help="Who corrects it (mail address).")],
        note: Annotated[str, typer.Option("--note", help="Why (kept in the audit trail).")],
        category: Annotated[str | None, typer.Option(
            help="New category: " + ", ".join(CATEGORIES) + ".")] = None,
        group: Annotated[str | None, typer.Option(
            help="New stakeholder group: " + ", ".join(GROUPS) + ".")] = None,
        formality: Annotated[str | None, typer.Option(
            help="New formality: " + ", ".join(FORMALITIES) + ".")] = None,
        receipt_required: Annotated[str | None, typer.Option(
            "--receipt-required", help="true: receipts open; false: open ones are withdrawn.")
                                    ] = None) -> None:
    """Correct a record's category, group, formality or receipts (audited, policy 4.3)."""
    who = address(by)
    change = Change(category=category, stakeholder_group=group, formality=formality,
                    receipt_required=_flag(receipt_required, "--receipt-required"))
    gw = open_app(ctx)
    try:
        config = guarded(ctx, lambda: gw.settings.project(project))

        def run() -> Outcome:
            with unit_of_work(gw.sessions) as session:
                record = session.get(Record, record_id, with_for_update=True)
                if record is None or record.project_id != gw.project_ids[project]:
                    raise fail(f"no record {record_id} in project {project}")
                return reclassify(gw, session, project=config, record=record, change=change,
                                  actor=f"user:{who}", note=note, now=gw.clock())

        outcome = guarded(ctx, run)
        if outcome.before != outcome.after:
            _relearn(gw, project)
    finally:
        gw.close()
    if outcome.before == outcome.after:
        typer.echo(f"record {record_id}: nothing changed")
        return
    changed = ", ".join(f"{k} {outcome.before[k]} → {outcome.after[k]}" for k in outcome.after
                        if outcome.before[k] != outcome.after[k])
    extra = (f"; {outcome.opened} receipt(s) opened" if outcome.opened else "") + (
        f"; {outcome.withdrawn} receipt(s) withdrawn" if outcome.withdrawn else "")
    typer.echo(f"record {record_id} reclassified by {who}: {changed}{extra}")
