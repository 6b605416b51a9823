"""The stakeholder group of a message (policy 3.3, 4.2): who, besides the team, is a party.

Every party (sender, To, Cc) except the gateway's own addresses is looked up in the project's
directory, in this order: project member; stakeholder (by person); department interface person;
stakeholder domain (the domain or a subdomain of it); the company domain (→ ``internal``);
anything else (→ ``other``). A member is ``internal`` except the O&M department manager, who is
``leadership`` as any party but the sender (in To or Cc: a copy to the manager is reporting
upwards). The message's group is the highest of its parties' groups by :data:`PRECEDENCE`
(leadership outranks procurement, quality and hr).
"""

from __future__ import annotations

from collections.abc import Iterator

from gateway.addresses import person_key
from gateway.classify.model import MessageFacts, Reason
from gateway.config.classify import GroupName
from gateway.config.settings import ProjectConfig

PRECEDENCE: tuple[GroupName, ...] = (
    "customer", "leadership", "procurement", "quality", "hr", "other", "internal",
)


def _domain(address: str) -> str:
    return address.rpartition("@")[2]


def _in_domain(domain: str, parent: str) -> bool:
    return domain == parent or domain.endswith("." + parent)


def _parties(facts: MessageFacts) -> Iterator[tuple[str, str]]:
    """(role, person key) for sender, To and Cc, each person once (first role wins)."""
    seen: set[str] = set()
    for role, addresses in (("from", (facts.sender,)), ("to", facts.to), ("cc", facts.cc)):
        for address in addresses:
            key = person_key(address)
            if address and key not in seen:
                seen.add(key)
                yield role, key


def party_group(key: str, role: str, project: ProjectConfig) -> tuple[GroupName, str] | None:
    """The group of one party and the directory entry that decided it; None: ignore it."""
    if _in_domain(_domain(key), _domain(project.address)):
        return None  # the gateway itself: project addresses and reply tokens
    member = next((m for m in project.members if person_key(m.email) == key), None)
    if member is not None:
        if member.role == "dept_manager" and role in ("to", "cc"):
            return "leadership", f"member:{member.name}(dept_manager, in {role})"
        return "internal", f"member:{member.name}"
    for person in project.stakeholders:
        if person_key(person.email) == key:
            return person.group, f"stakeholder:{person.name}"
    for dept in project.departments:
        if person_key(dept.interface.email) == key:
            return dept.group, f"department:{dept.name}/{dept.interface.name}"
    for entry in project.stakeholder_domains:
        if _in_domain(_domain(key), entry.domain):
            return entry.group, f"domain:{entry.domain}"
    if _in_domain(_domain(key), project.company_domain):
        return "internal", f"company_domain:{project.company_domain}"
    return "other", "unknown outside address"


def party_groups(facts: MessageFacts, project: ProjectConfig) -> frozenset[GroupName]:
    """The groups of all the message's parties (a rule for "a department is a party" reads
    these, not only the highest group: the manager in Cc does not hide the procurement party)."""
    found = (party_group(key, role, project) for role, key in _parties(facts))
    return frozenset(result[0] for result in found if result is not None) or frozenset(
        {"internal"})


def stakeholder_group(facts: MessageFacts,
                      project: ProjectConfig) -> tuple[GroupName, tuple[Reason, ...]]:
    """The message's group and one reason per party that decided or could have decided it."""
    found: list[tuple[GroupName, str, str]] = []
    for role, key in _parties(facts):
        result = party_group(key, role, project)
        if result is not None:
            found.append((result[0], key, result[1]))
    if not found:
        return "internal", (Reason("stakeholder_group", "no parties besides the gateway"),)
    best = min(found, key=lambda item: PRECEDENCE.index(item[0]))[0]
    reasons = tuple(
        Reason("stakeholder_group", f"party:{why}", (address, group),
               1.0 if group == best else 0.0)
        for group, address, why in found if group != "internal" or best == "internal")
    return best, reasons
