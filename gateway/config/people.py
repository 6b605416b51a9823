"""People as the project file names them: the one place a mail address becomes a person's name.

Every mail, list and form that shows a person uses these: the name from the project file
(members, stakeholders, departments' interface persons), else the display name the mail itself
carried, else the address (issue 21: never the local part ``huang`` for 黄经理). Pure lookups over
the frozen project config, plus :func:`parse_mailbox` for ``Name <addr>`` typed on a command line.
"""

from __future__ import annotations

from email.utils import getaddresses

from gateway.addresses import normalize_address, person_key, try_normalize
from gateway.config.settings import ProjectConfig


def configured_name(project: ProjectConfig, address: str) -> str:
    """The name the project file gives ``address`` (plus-tags ignored), or ``""``."""
    key = person_key(address)
    people: list[tuple[str, str]] = [(m.name, m.email) for m in project.members]
    people += [(s.name, s.email) for s in project.stakeholders]
    people += [(d.interface.name, d.interface.email) for d in project.departments]
    return next((name for name, email in people if person_key(email) == key), "")


def person_name(project: ProjectConfig, address: str, fallback: str = "") -> str:
    """Configured name, else ``fallback`` (the mail's display name), else ``""``."""
    return configured_name(project, address) or fallback.strip()


def display_name(project: ProjectConfig, address: str, fallback: str = "") -> str:
    """What a person reads for ``address``: the name, else the address itself."""
    return person_name(project, address, fallback) or address


def labelled(project: ProjectConfig, address: str, fallback: str = "") -> str:
    """``黄经理 <huang@client.example.cn>`` when a name is known, else the bare address."""
    name = person_name(project, address, fallback)
    return f"{name} <{address}>" if name else address


def parse_mailbox(value: str) -> tuple[str, str]:
    """``"黄经理 <huang@client.example.cn>"`` or a bare address → ``(name, canonical address)``.

    Raises ValueError when ``value`` is not exactly one mailbox (a list, junk, an empty string).
    """
    found = getaddresses([value])
    if len(found) != 1 or not found[0][1]:
        raise ValueError(f"not a single mail address: {value!r}")
    name, addr = found[0]
    return name.strip(), normalize_address(addr)


def try_parse_mailbox(value: str) -> tuple[str, str] | None:
    try:
        return parse_mailbox(value)
    except ValueError:
        return None


def is_address(value: str) -> bool:
    return try_normalize(value) is not None
