"""Reading the configuration files: TOML in, validated schemas out, every fault one line.

:func:`load_gateway` merges the gateway file with its ``COMMGATE_*`` overrides;
:func:`load_project` reads one project file and checks its matrix against its people. A fault
is a :class:`~gateway.errors.ConfigError` naming the file (or the variable), the key — counted
as people count, ``members[3]`` is the third — and a hint where we have one.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gateway.config.env import PREFIX as ENV_PREFIX
from gateway.config.gateway_file import GatewayConfig
from gateway.config.project import ProjectConfig
from gateway.errors import ConfigError


def _read_toml(path: Path) -> dict[str, Any]:
    """The file's table; ConfigError (one line) when it is missing, empty, not UTF-8 (TOML
    1.0 §"Spec": a TOML file must be valid UTF-8) or not TOML."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path),
                          hint="run from the project folder or set COMMGATE_CONFIG") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror or exc}", file=str(path)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start} is 0x{data[exc.start]:02x})",
                          file=str(path), hint="save the file as UTF-8") from None
    if not text.strip():
        raise ConfigError("the file is empty", file=str(path),
                          hint="start from config/*.example.toml") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=str(path)) from None


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``COMMGATE_SMTP__PORT=25`` → ``{"smtp": {"port": "25"}}`` (pydantic casts the strings)."""
    skip = {"CONFIG", "SECRET_KEY"}
    tree: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX):]
        if key in skip or not key:
            continue
        parts = [p.lower() for p in key.split("__")]
        if parts[0] not in GatewayConfig.model_fields:
            # Not a setting: e.g. a secret a setting names (password_env = "COMMGATE_…").
            continue
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = value
    return tree


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def position(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """A pydantic error location as a person counts: ``members[3].email`` is the third member
    (pydantic counts list items from 0)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += f".{part}" if out else str(part)
    return out


# Where a misspelt key is checked against: the shipped, commented files.
SHIPPED = {"gateway": "config/gateway.toml", "project": "config/projects/demo.toml"}
MISSING_HINTS = {
    "domain": 'the gateway\'s mail domain, e.g. domain = "gw.example.com": project addresses '
              "are proj-<code>@<domain>",
}


def _raise_validation(exc: ValidationError, file: str, env_keys: set[str],
                      kind: str = "gateway") -> None:
    first = exc.errors()[0]
    dotted = ".".join(str(p) for p in first["loc"])
    key = position(first["loc"]) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    hint: str | None = None
    if first["type"] == "extra_forbidden":
        message, hint = "unknown key", f"check the spelling against {SHIPPED[kind]} and docs/"
    elif first["type"] == "missing":
        message, hint = "required key is missing", MISSING_HINTS.get(dotted)
    if dotted in env_keys:
        file = ENV_PREFIX + dotted.upper().replace(".", "__")
    more = len(exc.errors()) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    raise ConfigError(message, file=file, key=key, hint=hint) from None


def load_gateway(path: Path, environ: Mapping[str, str]) -> GatewayConfig:
    data = _read_toml(path)
    env = _env_overrides(environ)
    env_keys = {".".join(k) for k in _flatten(env)}
    try:
        return GatewayConfig.model_validate(_merge(data, env))
    except ValidationError as exc:
        _raise_validation(exc, str(path), env_keys)
        raise  # unreachable


def _flatten(tree: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for key, value in tree.items():
        if isinstance(value, Mapping):
            out.extend(_flatten(value, prefix + (key,)))
        else:
            out.append(prefix + (key,))
    return out


def load_project(path: Path) -> ProjectConfig:
    data = _read_toml(path)
    try:
        project = ProjectConfig.model_validate(data)
    except ValidationError as exc:
        _raise_validation(exc, str(path), set(), kind="project")
        raise  # unreachable
    _check_matrix(project, str(path))
    if project.code != path.stem:
        raise ConfigError(f"code {project.code!r} does not match the file name", file=str(path),
                          key="code", hint=f"rename the file to {project.code}.toml")
    return project


def _check_matrix(project: ProjectConfig, file: str) -> None:
    """Matrix recipients are people of the project: a typo (``wulei@xdyj.example``) would
    send a report to nobody we know, or to a stranger."""
    known = project.people()
    for row_no, row in enumerate(project.matrix, start=1):
        for rcpt_no, address in enumerate(row.recipients, start=1):
            if address not in known:
                close = [a for a in known if a.split("@")[0] == address.split("@")[0]]
                raise ConfigError(
                    f"{address} is not a member, stakeholder or interface person of project "
                    f"{project.code}", file=file, key=f"matrix[{row_no}].recipients[{rcpt_no}]",
                    hint=(f"did you mean {close[0]}?" if close else
                          "add them to [[stakeholders]] first, or use recipient_roles"))
