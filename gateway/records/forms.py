"""Policy attachments rendered from records and config (policy 6): the 关键沟通记录表 here, the
项目沟通计划 in gateway/records/plan.py; both use this module's template environments and labels.

Templates live in ``templates/forms/<name>/`` — zh-CN files carry no suffix, the English variant
is ``<file>.en.<ext>`` (the convention of gateway/notify/render.py). Every value passes through
an escaper chosen by the file type: HTML is autoescaped by jinja2; Markdown values are escaped so
a hostile subject or name cannot open a tag, a link or a table cell; plain text only loses
control characters. A missing variable is an error (``StrictUndefined``), never an empty field.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from gateway.audit.labels import prose_words
from gateway.config.paths import templates_dir
from gateway.config.settings import ProjectConfig
from gateway.records.history import describe_all
from gateway.records.store import named_parties

LANGUAGES = ("zh-CN", "en")
FORMATS = ("html", "txt", "md")

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Inline Markdown syntax; "<", ">" and "&" become entities, newlines spaces (table rows).
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")

# Value labels: the one vocabulary of gateway/rules/labels.toml, as words in a sentence.
LABELS: dict[str, dict[str, str]] = prose_words()


def label(value: Any, lang: str) -> str:
    """The label of a coded value in ``lang``; unknown values are shown as they are."""
    return LABELS.get(lang, LABELS["zh-CN"]).get(str(value), str(value))


def md_escape(value: Any) -> str:
    """A value for Markdown: no HTML, no emphasis, links or cell breaks, one line."""
    text = _CONTROL.sub("", "" if value is None else str(value))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(_MD_SPECIAL.sub(r"\\\1", text).split())


def _plain(value: Any) -> Any:
    if isinstance(value, Markup) or not isinstance(value, str):
        return "" if value is None else value
    return _CONTROL.sub("", value)


def _markdown(value: Any) -> Any:
    return value if isinstance(value, Markup) else md_escape(value)


def local_time(value: Any, zone: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An ISO string or aware datetime, shown in the project's time zone."""
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(zone))
    return moment.strftime(fmt)


@functools.lru_cache(maxsize=8)
def environment(fmt: str, root: Path | None = None) -> Environment:
    """One environment per output type, so the escaper cannot be the wrong one."""
    root = root or templates_dir() / "forms"
    env = Environment(loader=FileSystemLoader(str(root)), autoescape=fmt == "html",
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True,
                      finalize=_markdown if fmt == "md" else _plain)
    env.filters["when"] = local_time
    return env


def render(name: str, file: str, fmt: str, *, lang: str, context: Mapping[str, Any],
           root: Path | None = None) -> str:
    """Render ``templates/forms/<name>/<file>[.en].<fmt>``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown form format {fmt!r}")
    suffix = "" if lang == "zh-CN" else ".en"
    template = environment(fmt, root).get_template(f"{name}/{file}{suffix}.{fmt}")
    return template.render({"lang": lang, "L": lambda v: label(v, lang), **context})


def form_language(requested: str | None, project: ProjectConfig) -> str:
    lang = requested or project.language
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: use zh-CN or en")
    return lang


def render_record_form(view: Mapping[str, Any], details: Mapping[str, Any],
                       project: ProjectConfig, *, lang: str, fmt: str, now: datetime) -> str:
    """The key communication record form (关键沟通记录表) of one record, as HTML or text."""
    if fmt not in ("html", "txt"):
        raise ValueError("the record form is HTML or text")

    pm = ", ".join(m.name for m in project.members_with("project_manager"))
    lines = describe_all(view.get("history"), lang=lang, label=lambda v: label(v, lang),
                         when=lambda v: local_time(v, project.timezone))
    return render("key_record", "form", fmt, lang=lang, context={
        "project": project, "r": {**view, "parties": named_parties(project, view["parties"])},
        "d": details, "zone": project.timezone,
        "recorder": pm, "generated_at": now, "history_lines": lines})
