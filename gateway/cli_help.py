"""How ``--help`` names the value an option takes: a word (TEXT, INTEGER, PATH…), never a
Python type (typer shows ``<bool>``, ``<list[Path]>``, ``<str>``), and nothing for a flag.

The command classes here are set on every command and group by :mod:`gateway.cli`; they only
change what help shows, never how values are parsed.
"""

from __future__ import annotations

import re
from typing import Any

from typer.core import TyperCommand, TyperGroup

_WORDS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "path": "PATH", "Path": "PATH",
          "file": "FILE", "directory": "FOLDER", "datetime": "DATETIME", "bool": "",
          "int range": "INTEGER", "float range": "NUMBER"}
_STRFTIME = {"%Y": "YYYY", "%m": "MM", "%d": "DD", "%H": "HH", "%M": "MM", "%S": "SS"}


def plain_type(label: str) -> str:
    """``<list[Path]>`` → ``PATH...``, ``<str>`` → ``TEXT``, ``<%Y-%m-%d>`` → ``YYYY-MM-DD``."""
    inner = label.strip().removeprefix("<").removesuffix(">")
    if m := re.fullmatch(r"list\[(.+)\]", inner):
        word = plain_type(m[1])
        return f"{word}..." if word else ""
    if "%" in inner:
        return re.sub(r"%[YmdHMS]", lambda f: _STRFTIME[f[0]], inner)
    if "|" in inner:  # choices: shown as they are, without the brackets
        return inner
    return _WORDS.get(inner, inner.upper())


def _plain(param: Any, ctx: Any) -> None:
    if getattr(param, "_commgate_plain", False):
        return
    param._commgate_plain = True
    if param.metavar is not None:
        return
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        shown = ""
    else:
        shown = plain_type(param.display_type(ctx))
    if param.param_type_name == "argument":
        # an argument's metavar is also its name in help: keep the name, show the type beside
        param.display_type_rich = lambda ctx=None, _shown=shown: _shown or None
    else:
        param.metavar = shown


class PlainCommand(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        for param in params:
            _plain(param, ctx)
        return params


class PlainGroup(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        for param in params:
            _plain(param, ctx)
        return params
