"""A project file's schema (``config/projects/<code>.toml``): members, stakeholders, departments,
the communication matrix, and the rules the stages read (classification, escalation,
connectors, IMAP intake, authentication).

A matrix row's ``frequency`` is checked here word by word (:func:`check_frequency`), so a
misspelt one fails at start-up instead of never being due; gateway/reports/periods.py reads the
checked words.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.addresses import normalize_address
from gateway.config.classify import ClassificationConfig, LearningConfig
from gateway.config.connectors import ConnectorsConfig
from gateway.config.escalation import EscalationConfig
from gateway.config.fields import Address, Domain, Formality, Group, Language, Role


class _Model(BaseModel):  # every table: frozen, and a misspelt key is an error
    model_config = ConfigDict(extra="forbid", frozen=True)



UNSCHEDULED = ("immediately", "on_demand", "per_phase")
FREQUENCY_FORMS = ("daily [HH:MM], weekly [mon…sun] [HH:MM], monthly [D|wdN] [HH:MM], or (not "
                   "scheduled) " + ", ".join(UNSCHEDULED))
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def check_frequency(text: str) -> str:
    """A matrix row's frequency, checked word by word (a misspelt one would never be due);
    ValueError naming the valid forms otherwise."""
    words = text.strip().lower().split()
    if len(words) == 1 and words[0] in UNSCHEDULED:
        return words[0]
    if not words or words[0] not in ("daily", "weekly", "monthly"):
        raise ValueError(f"frequency {text!r}: use {FREQUENCY_FORMS}")
    times = [w for w in words[1:] if re.fullmatch(r"\d{1,2}:\d{2}", w)]
    rest = [w for w in words[1:] if w not in times]
    try:
        for w in times:
            time.fromisoformat(w.zfill(5))
    except ValueError:
        raise ValueError(f"frequency {text!r}: {times[0]} is not a time of day (HH:MM)") from None
    if words[0] == "weekly":
        bad = [w for w in rest
               if len(w) < 3 or not any(day.startswith(w) for day in _DAY_NAMES)]
    elif words[0] == "monthly":  # day D (1–31; after the 28th: the 28th) or working day N
        bad = [w for w in rest if not (re.fullmatch(r"wd([1-9]|1\d|2[0-3])", w)
                                       or (w.isdigit() and 1 <= int(w) <= 31))]
    else:
        bad = rest
    if bad:
        raise ValueError(f"frequency {text!r}: {' '.join(bad)!r} not understood; use "
                         f"{FREQUENCY_FORMS}")
    if len(times) > 1 or len(rest) > 1:
        raise ValueError(f"frequency {text!r}: one day and one time at most; use "
                         f"{FREQUENCY_FORMS}")
    return " ".join(w.zfill(5) if w in times else w for w in words)


class Member(_Model):
    name: str
    email: Address
    role: Role
    language: Language | None = None  # None: the project's language
    title: str = ""  # job title in the signature of the notices they send (项目经理)
    phone: str = ""  # phone number in that signature


class Stakeholder(_Model):
    name: str
    email: Address
    group: Group
    title: str = ""
    language: Language | None = None  # None: the project's language


class DomainGroup(_Model):
    domain: Domain
    group: Group


class Person(_Model):
    name: str
    email: Address


class Department(_Model):
    name: str
    group: Group
    interface: Person


class MatrixEntry(_Model):
    """One row of the communication matrix (policy 4.1, attachment 1)."""

    audience: str
    information: str
    kind: str = Field(pattern=r"^[a-z_]+$")
    recipients: list[Address] = []
    recipient_roles: list[Role] = []
    format: Formality = "written"
    frequency: str  # a schedule or an unscheduled word (gateway/reports/periods.py)
    channel: str = "email"
    owner: Role = "project_manager"
    # Client-facing reports (issue 7): drafted to the owner first, sent on "同意发送"/"approve".
    # Unset: a report addressed to the client needs approval, others do not (issue 21).
    approval: bool | None = None

    @field_validator("frequency")
    @classmethod
    def _frequency(cls, value: str) -> str:
        return check_frequency(value)


class AuthPolicy(_Model):
    trusted_authserv_ids: list[str] = []


class ImapMailbox(_Model):
    """A mailbox the gateway polls for the project (IMAP intake, gateway/inbound/imap.py)."""

    host: str
    port: int = Field(default=0, ge=0, le=65535)  # 0: 993 for tls, else 143
    security: Literal["none", "starttls", "tls"] = "tls"
    ca_file: str = ""  # trust this CA instead of the system store
    user: str
    password_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")  # variable with the password
    folder: str = "INBOX"
    after_store: Literal["flag", "move"] = "flag"
    flag: str = "\\Seen"  # a system flag or a keyword such as $CommgateStored
    move_to: str = ""  # folder for after_store = "move"
    poll_interval: float = Field(default=60.0, gt=0)  # also the longest IDLE wait
    idle: bool = True  # use IDLE (RFC 2177) when the server offers it
    max_backoff: float = Field(default=300.0, gt=0)
    batch_size: int = Field(default=50, gt=0, le=1000)

    @model_validator(mode="after")
    def _move_target(self) -> ImapMailbox:
        if self.after_store == "move" and not self.move_to:
            raise ValueError("after_store = \"move\" needs move_to")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.security == "tls" else 143)


class ProjectConfig(_Model):
    """One project: who is in it, who its stakeholders are, and its rules."""

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    name: str
    address: Address
    company_domain: Domain
    timezone: str = "Asia/Shanghai"
    language: Literal["zh-CN", "en"] = "zh-CN"
    retention_years: int = Field(default=3, ge=3)
    members: list[Member]
    stakeholders: list[Stakeholder] = []
    stakeholder_domains: list[DomainGroup] = []
    departments: list[Department] = []
    matrix: list[MatrixEntry] = []
    auth: AuthPolicy = AuthPolicy()
    classification: ClassificationConfig = ClassificationConfig()
    classify: LearningConfig = LearningConfig()  # learning from corrections (issue #22)
    imap: ImapMailbox | None = None  # optional IMAP intake for this project
    escalation: EscalationConfig = EscalationConfig()
    connectors: ConnectorsConfig = ConnectorsConfig()  # DingTalk/webhook, archives
    hold: bool = False  # legal hold: nothing is purged (gateway/archive/retention.py)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _roles(self) -> ProjectConfig:
        roles = {m.role for m in self.members}
        for needed in ("project_manager", "dept_manager"):
            if needed not in roles:
                raise ValueError(f"members: no member has role {needed!r}")
        local = self.address.split("@", 1)[0]
        if local != f"proj-{self.code}":
            raise ValueError(f"address must be proj-{self.code}@<gateway domain>, "
                             f"got {self.address}")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def members_with(self, role: Role) -> list[Member]:
        return [m for m in self.members if m.role == role]

    def member(self, address: str) -> Member | None:
        address = normalize_address(address)
        return next((m for m in self.members if m.email == address), None)

    def people(self) -> dict[str, str]:
        """Every address the project knows a person by (members, stakeholders, interface
        persons) and that person's name."""
        out = {m.email: m.name for m in self.members}
        out.update({s.email: s.name for s in self.stakeholders})
        out.update({d.interface.email: d.interface.name for d in self.departments})
        return out
