"""Project config for the business-process system and periodic archives (``[connectors]``).

Policy 4.4: important client records are entered into the company's business-process system
(e.g. DingTalk) and all communication records are archived periodically. A project lists its
sinks (a DingTalk custom robot, or a generic JSON webhook) and, per sink, rules saying which
records go. URLs and secrets are never in the file: the file names the environment variables
that hold them, read when the gateway starts (see docs/audit.md)::

    [connectors]
    [[connectors.sinks]]
    name = "dingtalk"
    kind = "dingtalk"
    url_env = "COMMGATE_DEMO_DINGTALK_URL"
    secret_env = "COMMGATE_DEMO_DINGTALK_SECRET"
    [[connectors.sinks.rules]]
    groups = ["customer"]
    categories = ["change_notice", "incident", "decision"]

    [connectors.archive]
    every = "monthly"
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

EnvName = str
# The domain words of DESIGN.md §3 (gateway.config.settings imports this module, so they are
# repeated).
GroupName = Literal["customer", "leadership", "internal", "procurement", "quality", "hr", "other"]
CategoryName = Literal["directive", "decision", "change_notice", "risk", "incident",
                       "meeting_minutes", "report", "work_contact", "inquiry", "general"]
FormalityName = Literal["formal_written", "written", "formal_oral", "informal_oral"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConnectorRule(_Model):
    """A record goes when it matches every non-empty list of one rule (rules are OR'ed)."""

    groups: list[GroupName] = []  # stakeholder groups, e.g. ["customer"]
    categories: list[CategoryName] = []  # e.g. ["change_notice", "incident", "decision"]
    formality: list[FormalityName] = []  # e.g. ["formal_written", "formal_oral"] (policy 3.1)


class SinkConfig(_Model):
    """One business-process system endpoint."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    kind: Literal["dingtalk", "webhook"]
    url_env: EnvName = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    secret_env: EnvName = Field(default="", pattern=r"^([A-Za-z_][A-Za-z0-9_]*)?$")
    timeout: float = Field(default=10.0, gt=0, le=120)
    rules: list[ConnectorRule] = []


class PeriodicArchive(_Model):
    """Periodic archives (policy 4.4 "定期归档"): written by the scheduler's tick."""

    every: Literal["off", "weekly", "monthly"] = "off"
    dir: str = ""  # default: <data_dir>/archives/<code>


class ConnectorsConfig(_Model):
    """The ``[connectors]`` table of a project file."""

    sinks: list[SinkConfig] = []
    retry_min_seconds: float = Field(default=30.0, gt=0)
    retry_max_seconds: float = Field(default=3600.0, gt=0)
    lease_seconds: float = Field(default=300.0, gt=0)  # a `sending` row older than this retries
    archive: PeriodicArchive = PeriodicArchive()

    @model_validator(mode="after")
    def _unique_names(self) -> ConnectorsConfig:
        names = [s.name for s in self.sinks]
        if len(names) != len(set(names)):
            raise ValueError("sinks: names must be unique")
        if self.retry_max_seconds < self.retry_min_seconds:
            raise ValueError("retry_max_seconds must be at least retry_min_seconds")
        return self
