"""How the command line explains itself: ``--help`` names the value an option takes in a word
(TEXT, INTEGER, PATH…), never a Python type (typer shows ``<bool>``, ``<list[Path]>``,
``<str>``), and nothing for a flag; a usage error (a missing option, a value that is no date)
is one line on stderr with the command's ``--help`` to read, exit 2 — like every other error.

The command classes here are set on every command and group by :mod:`gateway.cli.main`; they change
what help and usage errors show, never how values are parsed.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import Any

import typer
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


class _PlainParams:
    """Shows every parameter of the command (or group) it is mixed into in words."""

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            _plain(param, ctx)
        return params


class PlainCommand(_PlainParams, TyperCommand):
    pass


class PlainGroup(_PlainParams, TyperGroup):
    pass


def usage_line(exc: BaseException) -> str | None:
    """A click usage error as one line naming the command's help; None for anything else."""
    ctx = getattr(exc, "ctx", None)
    if not hasattr(exc, "format_message") or not hasattr(exc, "exit_code"):
        return None
    names: list[str] = []
    while ctx is not None and ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    command = " ".join(["commgate", *reversed(names)])
    message = " ".join(str(exc.format_message()).split())
    return f"commgate: {message} (see `{command} --help`)"


class PlainRoot(PlainGroup):
    """The ``commgate`` group: usage errors as one line (typer draws a box of several)."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             windows_expand_args: bool = True, **extra: Any) -> Any:
        def call(standalone: bool) -> Any:
            return super(PlainRoot, self).main(
                args, prog_name, complete_var, standalone_mode=standalone,
                windows_expand_args=windows_expand_args, **extra)

        if not standalone_mode:
            return call(False)
        try:
            code = call(False)
        except Exception as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # the help is printed already
                sys.exit(2)
            if type(exc).__name__ == "Abort":
                typer.echo("Aborted!", err=True)
                sys.exit(1)
            line = usage_line(exc)
            if line is None:
                raise
            typer.echo(line, err=True)
            sys.exit(getattr(exc, "exit_code", 2))
        sys.exit(code if isinstance(code, int) else 0)
