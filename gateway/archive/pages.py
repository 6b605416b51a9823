"""The archive's HTML: a browsable ``index.html`` and, when gateway/records/forms.py is absent,
a simple page per record. Offline by construction: inline CSS, relative links only, no scripts,
no external resources — the quality department opens it from an unzipped folder years later.

Templates are ``templates/archive/<name>.html`` (zh-CN) and ``<name>.en.html``, jinja2 with
autoescape; rendering streams (``Template.generate``) so a 100k-message index never sits in
memory whole.
"""

from __future__ import annotations

import functools
import urllib.parse
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from gateway.audit.labels import (
    CATEGORY,
    FORMALITY,
    GROUP,
    MAIL_KIND,
    MAIL_STATE,
    RECEIPT,
    URGENCY,
    label,
)
from gateway.config.paths import templates_dir


def href(path: str) -> str:
    """A relative link to an archive entry (percent-encoded UTF-8, as browsers expect)."""
    return urllib.parse.quote(path, safe="/")


def _when(value: Any, zone: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value in (None, ""):
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(zone))
    return moment.strftime(fmt) if isinstance(moment, datetime) else str(value)


def _size(value: int) -> str:
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)


@functools.lru_cache(maxsize=2)
def environment(root: Path | None = None) -> Environment:
    root = root or templates_dir() / "archive"
    env = Environment(loader=FileSystemLoader(str(root)),
                      autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(when=_when, href=href, size=_size)
    return env


def _labels(lang: str) -> dict[str, Any]:
    return {"category": lambda v: label(CATEGORY, v, lang),
            "group": lambda v: label(GROUP, v, lang),
            "formality": lambda v: label(FORMALITY, v, lang),
            "receipt": lambda v: label(RECEIPT, v, lang),
            "urgency": lambda v: label(URGENCY, v, lang),
            "mail_kind": lambda v: label(MAIL_KIND, v, lang),
            "mail_state": lambda v: label(MAIL_STATE, v, lang)}


def _template(name: str, lang: str, ext: str) -> str:
    return f"{name}.{ext}" if lang.startswith("zh") else f"{name}.en.{ext}"


def stream(name: str, *, lang: str, context: Mapping[str, Any],
           ext: str = "html") -> Iterator[str]:
    """Render ``name`` chunk by chunk; iterables in ``context`` are consumed lazily.

    ``.html`` templates are autoescaped, ``.txt`` ones (mail bodies) are not.
    """
    template = environment().get_template(_template(name, lang, ext))
    return template.generate({"lang": lang, **_labels(lang), **context})


def render(name: str, *, lang: str, context: Mapping[str, Any], ext: str = "html") -> str:
    return "".join(stream(name, lang=lang, context=context, ext=ext))
