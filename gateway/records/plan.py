"""The project communication plan (项目沟通计划, policy 4.1 and attachment 1), from config.

The plan has three parts, all from the project file and the policy text: the communication
matrix (who needs what information, in which format, how often, by which channel, from whom),
the method-selection table 4-1 (formal written / written / formal oral / informal oral), and
the stakeholder directory (members, stakeholders, departments with their interface persons,
stakeholder domains). Pure: :func:`plan_context` builds plain data, :func:`render_plan` renders it
as HTML or Markdown through gateway/records/forms.py; ``commgate plan`` writes the files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.addresses import person_key
from gateway.config.settings import ProjectConfig
from gateway.records.forms import label, render


@dataclass(frozen=True)
class Method:
    """One row of table 4-1 (沟通方式选择表), in the policy's words and in English."""

    code: str
    traits_zh: str
    uses_zh: str
    traits_en: str
    uses_en: str


# Policy XDYJ-04-02, 4.1, 表4-1 沟通方式选择表 — the zh-CN cells are the policy text verbatim.
METHODS: tuple[Method, ...] = (
    Method("formal_written", "内容严谨，可留存，不易失真", "合同、方案、报告、会议纪要",
           "rigorous, can be kept, hardly distorted",
           "contracts, proposals, reports, meeting minutes"),
    Method("written", "灵活，格式自由", "个人工作笔记、即时贴、群内通知",
           "flexible, free format", "personal work notes, sticky notes, group notices"),
    Method("formal_oral", "直接高效，但需辅以记录", "项目启动会、汇报、评审会",
           "direct and efficient, but needs a record",
           "project kick-off meetings, briefings, reviews"),
    Method("informal_oral", "灵活快捷，效率高", "日常讨论、问题初步探询",
           "flexible, quick, efficient", "daily discussion, first enquiries about a problem"),
)


def directory_names(project: ProjectConfig) -> dict[str, str]:
    """Person key → name, from members, stakeholders and department interface persons."""
    names: dict[str, str] = {}
    for dept in project.departments:
        names[person_key(dept.interface.email)] = dept.interface.name
    for s in project.stakeholders:
        names[person_key(s.email)] = s.name
    for m in project.members:
        names[person_key(m.email)] = m.name
    return names


def _who(address: str, names: dict[str, str]) -> str:
    name = names.get(person_key(address))
    return f"{name} <{address}>" if name else address


def _owner(role: str, names: list[str], lang: str) -> str:
    if not names:
        return role
    return f"{role}（{'、'.join(names)}）" if lang == "zh-CN" else f"{role} ({', '.join(names)})"


def plan_context(project: ProjectConfig, *, lang: str, now: datetime) -> dict[str, Any]:
    """Everything the plan templates show, as plain values (labels already in ``lang``)."""
    names = directory_names(project)
    by_role = {role: [m.name for m in project.members_with(role)]
               for role in ("dept_manager", "project_manager", "engineer")}
    matrix = [{
        "audience": row.audience, "information": row.information, "kind": row.kind,
        "recipients": [_who(a, names) for a in row.recipients]
        + [label(role, lang) for role in row.recipient_roles],
        "format": label(row.format, lang), "frequency": label(row.frequency, lang),
        "channel": label(row.channel, lang),
        "owner": _owner(label(row.owner, lang), by_role.get(row.owner, []), lang),
    } for row in project.matrix]
    methods = [{"name": label(m.code, lang),
                "traits": m.traits_zh if lang == "zh-CN" else m.traits_en,
                "uses": m.uses_zh if lang == "zh-CN" else m.uses_en} for m in METHODS]
    return {
        "project": project, "zone": project.timezone, "generated_at": now,
        "managers": {role: "、".join(n) if lang == "zh-CN" else ", ".join(n)
                     for role, n in by_role.items()},
        "matrix": matrix, "methods": methods,
        "members": [{"name": m.name, "email": m.email, "role": label(m.role, lang)}
                    for m in project.members],
        "stakeholders": [{"name": s.name, "email": s.email, "group": label(s.group, lang),
                          "title": s.title} for s in project.stakeholders],
        "departments": [{"name": d.name, "group": label(d.group, lang),
                         "interface": _who(d.interface.email, names)}
                        for d in project.departments],
        "domains": [{"domain": d.domain, "group": label(d.group, lang)}
                    for d in project.stakeholder_domains],
    }


def render_plan(project: ProjectConfig, *, lang: str, fmt: str, now: datetime) -> str:
    if fmt not in ("html", "md"):
        raise ValueError("the communication plan is HTML or Markdown")
    return render("comm_plan", "plan", fmt, lang=lang,
                  context=plan_context(project, lang=lang, now=now))


def write_plan(project: ProjectConfig, out_dir: Path, *, lang: str,
               now: datetime) -> list[Path]:
    """Write ``communication-plan-<code>[.en].html`` and ``.md`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = "" if lang == "zh-CN" else ".en"
    written = []
    for fmt in ("html", "md"):
        path = out_dir / f"communication-plan-{project.code}{suffix}.{fmt}"
        path.write_text(render_plan(project, lang=lang, fmt=fmt, now=now), encoding="utf-8")
        written.append(path)
    return written
