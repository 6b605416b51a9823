"""The value types the configuration files share: addresses, mail domains, roles, groups.

The gateway file's schema (gateway/config/gateway_file.py) and the project file's
(gateway/config/project.py) validate their values with these, so a project address or a
domain that is not one fails at start-up, with the key it came from.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator

from gateway.addresses import normalize_address

Role = Literal["dept_manager", "project_manager", "engineer"]
Group = Literal["customer", "leadership", "internal", "procurement", "quality", "hr", "other"]
Formality = Literal["formal_written", "written", "formal_oral", "informal_oral"]
Language = Literal["zh-CN", "en"]


def _address(value: str) -> str:
    return normalize_address(value)


def _domain(value: str) -> str:
    value = value.strip().lower().rstrip(".")
    if not value or "@" in value or " " in value or "." not in value:
        raise ValueError(f"not a mail domain: {value!r}")
    return value.encode("idna").decode("ascii")


Address = Annotated[str, AfterValidator(_address)]
Domain = Annotated[str, AfterValidator(_domain)]
