"""Configuration: one gateway file plus one file per project, loaded once and frozen.

The gateway file (``config/gateway.toml`` by default, or ``$COMMGATE_CONFIG``) holds listeners,
database and broker URLs, outbound delivery and the gateway's mail domain. Every gateway setting
can be overridden from the environment: ``COMMGATE_DATABASE_URL``, ``COMMGATE_BROKER_URL``,
``COMMGATE_SMTP__PORT`` (a double underscore descends into a table). Secrets come only from the
environment (``COMMGATE_SECRET_KEY``); in the embedded default a key is generated once into
``<data_dir>/secret_key``.

Project files (``config/projects/<code>.toml``) hold members, stakeholders, departments, the
communication matrix and the rules later stages use. Both are validated at start-up; every
problem is reported as ``file: key: what is wrong (hint: …)`` by
:class:`~gateway.errors.ConfigError`.

This module is the entry point: :func:`load_settings` and the :class:`Settings` it returns. The
schemas live in gateway/config/gateway_file.py and gateway/config/project.py (and the tables of
classify, connectors and escalation beside them), reading the files in gateway/config/files.py,
the secret key in gateway/config/secret.py, the environment in gateway/config/env.py. Their
names are importable from here too, as every stage imports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.addresses import normalize_address
from gateway.config.env import PREFIX, config_path, environment
from gateway.config.fields import Address, Domain, Formality, Group, Language, Role
from gateway.config.files import load_gateway, load_project, position
from gateway.config.gateway_file import GatewayConfig, Ops, Outbound, SmtpListener
from gateway.config.project import (
    AuthPolicy,
    Department,
    DomainGroup,
    ImapMailbox,
    MatrixEntry,
    Member,
    Person,
    ProjectConfig,
    Stakeholder,
)
from gateway.config.secret import make_private_dir, secret_key
from gateway.errors import ConfigError

__all__ = ["DEFAULT_CONFIG_PATH", "ENV_PREFIX", "Address", "AuthPolicy", "Department", "Domain",
           "DomainGroup", "Formality", "GatewayConfig", "Group", "ImapMailbox", "Language",
           "MatrixEntry", "Member", "Ops", "Outbound", "Person", "ProjectConfig", "Role",
           "Settings", "SmtpListener", "Stakeholder", "load_gateway", "load_project",
           "load_settings", "make_private_dir", "position"]

ENV_PREFIX = PREFIX
DEFAULT_CONFIG_PATH = Path("config/gateway.toml")


@dataclass(frozen=True)
class Settings:
    """Everything loaded at start-up: the gateway file and all projects, validated together."""

    gateway: GatewayConfig
    projects: Mapping[str, ProjectConfig]
    config_path: Path
    secret_key: bytes

    @property
    def data_dir(self) -> Path:
        return Path(self.gateway.data_dir)

    @property
    def database_url(self) -> str:
        return self.gateway.database_url or f"sqlite:///{self.data_dir / 'commgate.db'}"

    @property
    def outbox_dir(self) -> Path:
        return Path(self.gateway.outbound.outbox_dir or self.data_dir / "outbox")

    def project(self, code: str) -> ProjectConfig:
        try:
            return self.projects[code]
        except KeyError:
            known = ", ".join(sorted(self.projects)) or "none"
            raise ConfigError(f"no project {code!r}", hint=f"known projects: {known}") from None

    def project_for_address(self, address: str) -> ProjectConfig | None:
        address = normalize_address(address)
        return next((p for p in self.projects.values() if p.address == address), None)


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Load and validate the gateway file and every project file; raise ConfigError on a fault."""
    environ = environment() if environ is None else environ
    path = Path(path or config_path(environ) or DEFAULT_CONFIG_PATH)
    gateway = load_gateway(path, environ)
    projects_dir = path.parent / gateway.projects_dir
    projects: dict[str, ProjectConfig] = {}
    addresses: dict[str, Path] = {}
    for project_file in sorted(projects_dir.glob("*.toml")):
        project = load_project(project_file)
        if project.address.split("@", 1)[1] != gateway.domain:
            raise ConfigError(f"address {project.address} is not in the gateway domain "
                              f"{gateway.domain}", file=str(project_file), key="address")
        if project.address in addresses:
            raise ConfigError(f"address {project.address} is also used by "
                              f"{addresses[project.address]}", file=str(project_file),
                              key="address")
        addresses[project.address] = project_file
        projects[project.code] = project
    secret = secret_key(Path(gateway.data_dir), environ)
    return Settings(gateway=gateway, projects=projects, config_path=path, secret_key=secret)
