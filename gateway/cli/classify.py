"""``commgate classify FILE.eml --project CODE`` (classify one message, store nothing) and
``commgate classify evaluate --project CODE`` (how well the project's mail is classified).

``--json`` prints ``{category, stakeholder_group, formality, urgency, receipt_required,
reasons}``; ``--explain`` prints the same for people, with zh-CN labels beside the English keys
and every reason. The project's model learned from corrections is used as the pipeline uses it
(gateway/classify/learn.py) and named in the reasons. ``evaluate`` cross-validates over the
project's corrected records (gateway/records/corrections.py): per field, the rules alone and
the rules with learning. Errors (unknown project, missing file, bad config) are one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from gateway.app import build_app
from gateway.classify.facts import facts_from_bytes
from gateway.classify.message import classify
from gateway.classify.model import Classification
from gateway.config.settings import ProjectConfig, Settings, load_settings
from gateway.errors import GatewayError
from gateway.records.corrections import Evaluation, corrected_examples, evaluate, model_for
from gateway.store.db import unit_of_work

EXIT_USAGE = 2

FIELD_LABELS = {
    "category": "类别",
    "stakeholder_group": "干系人组",
    "formality": "沟通方式",
    "urgency": "紧急程度",
    "receipt_required": "需要回执",
}
VALUE_LABELS = {
    "directive": "指令", "decision": "决策", "change_notice": "变更通知", "risk": "风险",
    "incident": "故障/事件", "meeting_minutes": "会议纪要", "report": "报告",
    "work_contact": "工作联系单", "inquiry": "问询", "general": "一般",
    "customer": "客户", "leadership": "上层领导", "internal": "项目内部", "procurement": "采购部",
    "quality": "质量效能部", "hr": "人力资源部", "other": "其他",
    "formal_written": "正式书面", "written": "书面", "formal_oral": "正式口头",
    "informal_oral": "非正式口头", "normal": "普通", "urgent": "紧急",
    "true": "是", "false": "否",
}


def _value(result: Classification, field: str) -> str:
    value = getattr(result, field)
    return str(value).lower() if isinstance(value, bool) else str(value)


def render_explain(result: Classification, *, with_reasons: bool) -> str:
    """The human-readable form: ``类别 category: 指令 (directive)`` and the reasons."""
    lines: list[str] = []
    for field, label in FIELD_LABELS.items():
        value = _value(result, field)
        lines.append(f"{label} {field}: {VALUE_LABELS.get(value, value)} ({value})")
        if with_reasons:
            for reason in result.reasons_for(field):
                words = "、".join(reason.evidence)
                weight = f" [{reason.weight:g}]" if reason.weight else ""
                lines.append(f"    - {reason.rule}{weight}" + (f": {words}" if words else ""))
    return "\n".join(lines)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"commgate: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def _config_path(ctx: typer.Context, own: Path | None) -> Path | None:
    """This command's ``--config``, else the global one (``commgate --config X classify …``)."""
    return own if own is not None else getattr(ctx.obj, "config", None)


def _load(ctx: typer.Context, own: Path | None, project: str) -> tuple[Settings, ProjectConfig]:
    """The settings and the project, or one line on stderr and exit 2."""
    try:
        settings = load_settings(_config_path(ctx, own))
        return settings, settings.project(project)
    except GatewayError as exc:
        raise _fail(str(exc)) from None


def classify_file(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="the message (.eml) to classify")],
    project: Annotated[str, typer.Option("--project", "-p", help="project code")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    explain: Annotated[bool, typer.Option("--explain", help="print every reason")] = False,
    config: Annotated[Path | None, typer.Option("--config", help="gateway config file")] = None,
) -> None:
    """Classify one message for a project and print the result; nothing is stored."""
    settings, project_config = _load(ctx, config, project)
    try:
        raw = file.read_bytes()
        model = model_for(settings.data_dir, project_config)
        result = classify(facts_from_bytes(raw), project_config, model=model)
    except GatewayError as exc:
        raise _fail(str(exc)) from None
    except FileNotFoundError:
        raise _fail(f"{file}: file not found") from None
    except (IsADirectoryError, PermissionError) as exc:
        raise _fail(f"{file}: {exc.strerror}") from None
    if as_json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(render_explain(result, with_reasons=explain))


def render_evaluation(result: Evaluation, *, learn: bool) -> str:
    """The human table of ``classify evaluate`` (zh-CN labels beside the English keys)."""
    if result.folds == 0:
        return (f"纠正过的记录 corrected records: {result.examples} — 至少需要 2 条 "
                "(need at least 2 to cross-validate)")
    lines = [f"纠正过的记录 corrected records: {result.examples}, "
             f"{result.folds} 折交叉验证 folds",
             f"{'字段 field':<28} {'仅规则 rules':>14} {'规则+学习 with learning':>24}"]
    for score in result.fields:
        label = f"{FIELD_LABELS[score.field]} {score.field}"
        lines.append(f"{label:<28} {score.rules:>14.1%} {score.learned:>24.1%}")
    lines.append(f"模型改变的决定 decisions changed by the model: {result.changed}")
    if not learn:
        lines.append("本项目已关闭学习 learning is off for this project ([classify] learn = false)")
    return "\n".join(lines)


def evaluate_command(
    ctx: typer.Context,
    project: Annotated[str, typer.Option("--project", "-p", help="project code")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    config: Annotated[Path | None, typer.Option("--config", help="gateway config file")] = None,
) -> None:
    """Per-field accuracy, cross-validated over the project's corrected records."""
    settings, project_config = _load(ctx, config, project)
    try:
        gw = build_app(settings)
    except GatewayError as exc:
        raise _fail(str(exc)) from None
    try:
        with unit_of_work(gw.sessions) as session:
            examples = corrected_examples(session, gw.project_ids[project])
    finally:
        gw.close()
    result = evaluate(examples, project_config)
    if as_json:
        typer.echo(json.dumps({"project": project, "learn": project_config.classify.learn,
                               **result.as_dict()}, ensure_ascii=False, indent=2))
    else:
        typer.echo(render_evaluation(result, learn=project_config.classify.learn))


class _FileOrCommand(TyperGroup):
    """``classify FILE …`` runs the hidden ``file`` command; ``classify evaluate …`` its own."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["file", *args]
        return super().parse_args(ctx, args)


def register(app: typer.Typer) -> None:
    """Add the ``classify`` commands to the commgate CLI."""
    group = typer.Typer(cls=_FileOrCommand, no_args_is_help=True,
                        help="Classify a message (classify FILE.eml) or evaluate (evaluate).")
    group.command("file", hidden=True)(classify_file)
    group.command("evaluate")(evaluate_command)
    app.add_typer(group, name="classify")
