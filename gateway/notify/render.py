"""Rendering templates: ``templates/<area>/<name>/{subject,body}.txt`` + ``body.html``, zh-CN first.

The zh-CN files carry no suffix; the English variant of each file is ``<file>.en.<ext>``
(``subject.en.txt``, ``body.en.html``). HTML is autoescaped (jinja2 ``select_autoescape``), text
is not; a missing variable is an error (``StrictUndefined``), never an empty hole in a notice.
Layouts shared by notices and reports live in ``templates/base/``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from gateway.audit.labels import any_label
from gateway.config.paths import templates_dir
from gateway.config.settings import Member, ProjectConfig, Stakeholder

LANGUAGES = ("zh-CN", "en")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    language: str


def _suffix(language: str) -> str:
    return "" if language == "zh-CN" else ".en"


def _fmt_time(value: Any, zone: str = "Asia/Shanghai", fmt: str = "%Y-%m-%d %H:%M") -> str:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(ZoneInfo(zone))
        return str(value.strftime(fmt))
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


@functools.lru_cache(maxsize=4)
def environment(root: Path | None = None) -> Environment:
    root = root or templates_dir()
    env = Environment(
        loader=FileSystemLoader(str(root)),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True)
    env.filters["when"] = _fmt_time
    # domain words as people read them: {{ "directive"|zh }} → 指令, {{ ...|en }} → Directive
    env.filters["zh"] = lambda key: _label(key, "zh-CN")
    env.filters["en"] = lambda key: _label(key, "en")
    # in the mail's own language: {{ rec.urgency|label(lang) }} (issue 21: no raw keys)
    env.filters["label"] = _label
    return env


def _label(key: str, language: str) -> str:

    return any_label(key, language)


def template_path(area: str, name: str, file: str, language: str) -> str:
    stem, _, ext = file.rpartition(".")
    return f"{area}/{name}/{stem}{_suffix(language)}.{ext}"


def render(area: str, name: str, *, language: str, project: ProjectConfig,
           context: Mapping[str, Any], root: Path | None = None) -> Rendered:
    """Render subject, text and HTML of one template set in ``language``."""
    if language not in LANGUAGES:
        language = project.language
    env = environment(root)
    values = {"project": project, "lang": language, "zone": project.timezone, **context}
    parts = {}
    for file in ("subject.txt", "body.txt", "body.html"):
        parts[file] = env.get_template(template_path(area, name, file, language)).render(values)
    subject = " ".join(parts["subject.txt"].split())  # one line, whatever the template did
    return Rendered(subject=subject, text=parts["body.txt"].strip() + "\n",
                    html=parts["body.html"], language=language)


def recipient_language(project: ProjectConfig, address: str) -> str:
    """The language a person reads: their own (``language`` in config, when the member or
    stakeholder has one), else the project's."""
    people: list[Member | Stakeholder] = [*project.members, *project.stakeholders]
    for person in people:
        if person.email == address:
            chosen = getattr(person, "language", None)
            if chosen in LANGUAGES:
                return str(chosen)
    return project.language
