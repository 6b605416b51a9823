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
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from gateway.addresses import normalize_address
from gateway.config.classify import ClassificationConfig, LearningConfig
from gateway.config.connectors import ConnectorsConfig
from gateway.config.env import PREFIX, config_path, environment
from gateway.config.escalation import EscalationConfig
from gateway.errors import ConfigError

ENV_PREFIX = PREFIX
DEFAULT_CONFIG_PATH = Path("config/gateway.toml")

Role = Literal["dept_manager", "project_manager", "engineer"]
Group = Literal["customer", "leadership", "internal", "procurement", "quality", "hr", "other"]
Formality = Literal["formal_written", "written", "formal_oral", "informal_oral"]


def _address(value: str) -> str:
    return normalize_address(value)


def _domain(value: str) -> str:
    value = value.strip().lower().rstrip(".")
    if not value or "@" in value or " " in value or "." not in value:
        raise ValueError(f"not a mail domain: {value!r}")
    return value.encode("idna").decode("ascii")


Address = Annotated[str, AfterValidator(_address)]
Domain = Annotated[str, AfterValidator(_domain)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- the gateway file -------------------------------------------------------------------------


class SmtpListener(_Model):
    """The inbound SMTP/LMTP listener and its limits (see docs/inbound.md)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=2525, ge=0, le=65535)
    mode: Literal["smtp", "lmtp"] = "smtp"
    hostname: str = ""
    max_message_size: int = Field(default=25 * 1024 * 1024, gt=0)  # SIZE (RFC 1870), else 552
    max_recipients: int = Field(default=100, gt=0)  # RFC 5321 §4.5.3.1.8: at least 100
    # Longest line in DATA, without CRLF; RFC 5322 §2.1.1 allows 998. Longer: 500, refused.
    max_line_length: int = Field(default=998, ge=78, le=65536)
    max_connections_per_ip: int = Field(default=20, gt=0)
    # All clients together; beyond it a new connection gets 421 and is closed. Keep it well
    # under the process's descriptor limit (ulimit -n), which the database and files share.
    max_connections: int = Field(default=500, gt=0)
    idle_timeout: float = Field(default=300.0, gt=0)  # RFC 5321 §4.5.3.2.7: 5 minutes
    # The whole DATA transfer must end within this many seconds (a sender trickling a byte
    # every few seconds never trips the idle timeout); then 421 and the connection is closed.
    # RFC 5321 §4.5.3.2.6 asks servers to wait 10 minutes for the end of data after the last
    # byte; this is the overall bound (25 MiB at 60 kB/s fits).
    data_timeout: float = Field(default=600.0, gt=0)
    tls_cert: str = ""  # PEM certificate chain; with tls_key, STARTTLS is offered (RFC 3207)
    tls_key: str = ""
    require_starttls: bool = False  # refuse MAIL until STARTTLS (needs tls_cert)
    # How raw files become durable before 250 (docs/inbound.md): "batch" = one syncfs(2) per
    # group commit (Linux >= 5.8; elsewhere falls back to "file"), "file" = fsync per file.
    raw_sync: Literal["batch", "file"] = "batch"
    # Where messages are written and committed (docs/inbound.md): "process" = a child process of
    # serve (uses a second core), "thread" = a thread of the listener's own process.
    writer: Literal["process", "thread"] = "process"

    @model_validator(mode="after")
    def _tls_pair(self) -> SmtpListener:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key must be set together")
        if self.require_starttls and not self.tls_cert:
            raise ValueError("require_starttls needs tls_cert and tls_key")
        return self


class Outbound(_Model):
    """Where outbound mail goes: a relay when ``relay_host`` is set, else a Maildir folder.

    Every mail is first an outbox row (gateway/notify/outbox.py); these keys steer its delivery.
    """

    relay_host: str = ""
    relay_port: int = Field(default=25, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "none"
    username: str = ""
    # The relay password is read from this environment variable, never from the file.
    password_env: str = Field(default="COMMGATE_OUTBOUND_PASSWORD",
                              pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    ca_file: str = ""  # trust this CA for the relay's certificate instead of the system store
    timeout: float = Field(default=30.0, gt=0)  # seconds per SMTP command
    outbox_dir: str = ""  # default: <data_dir>/outbox
    # Retries after a 4xx or a connection error: retry_base_seconds · 2^(attempt-1), at most
    # retry_max_seconds apart, until give_up_after_hours after queueing (then: failed).
    retry_base_seconds: float = Field(default=60.0, gt=0)
    retry_max_seconds: float = Field(default=1800.0, gt=0)
    give_up_after_hours: float = Field(default=72.0, gt=0)
    lease_seconds: float = Field(default=300.0, gt=0)  # a row in `sending` longer is retried
    # Loop breaker: at most this many mails to one address per project per hour (0: no limit).
    rate_limit_per_recipient: int = Field(default=30, ge=0)
    # An address that sent verified automated mail gets no automatic answers for this long
    # (never a member or stakeholder; reminders and escalations are never held back).
    suppression_days: float = Field(default=7.0, gt=0)
    batch_size: int = Field(default=100, gt=0, le=10_000)  # rows per delivery sweep


class Ops(_Model):
    """The operations endpoint: ``/healthz`` and Prometheus ``/metrics`` (docs/operations.md).

    Loopback by default: the endpoint is unauthenticated, so expose it only to the monitoring
    network (a reverse proxy or a firewall rule), never to the Internet.
    """

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=9425, ge=0, le=65535)  # 0: any free port (tests)
    # `commgate worker` and `commgate scheduler` serve /metrics and /healthz on their own
    # ports (the pipeline's and the scheduler's metrics live in those processes); 0: off (the
    # default, so several of them on one host never collide: e.g. 9426 and 9427).
    worker_port: int = Field(default=0, ge=0, le=65535)
    scheduler_port: int = Field(default=0, ge=0, le=65535)


class GatewayConfig(_Model):
    """The gateway file, after environment overrides."""

    domain: Domain  # required: no default would be right (project addresses live in it)
    data_dir: str = "var"
    database_url: str = ""  # default: sqlite under data_dir
    # Messages up to this many bytes keep their raw bytes in the database, committed with their
    # row (one disk flush per batch, no file); larger ones are files under <data_dir>/raw.
    # 0: every message is a file. See docs/inbound.md, "Where the raw bytes live".
    raw_inline_max: int = Field(default=64 * 1024, ge=0, le=16 * 1024 * 1024)
    broker_url: str = ""  # empty: in-process jobs
    projects_dir: str = "projects"  # relative to the gateway file
    worker_threads: int = Field(default=2, ge=1, le=64)
    sweep_interval: float = Field(default=5.0, gt=0)
    # A stored message whose job was sent this long ago and is still unprocessed is queued
    # again (the job was lost: a broker restart, a crash). Longer than the normal queue wait.
    sweep_stale_after: float = Field(default=120.0, gt=0)
    # Every text stage after parsing (classification, intent, receipt answers, deadlines,
    # approvals) reads at most this many characters of a message's text, so one huge mail
    # never holds up the rest; the whole text is still stored and searchable.
    text_stage_max: int = Field(default=256 * 1024, ge=1024)
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    smtp: SmtpListener = SmtpListener()
    outbound: Outbound = Outbound()
    ops: Ops = Ops()

    @field_validator("broker_url")
    @classmethod
    def _broker_scheme(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "amqp://", "amqps://")):
            raise ValueError("broker_url must start with redis://, rediss://, amqp:// or amqps://")
        return value


# --- project files ----------------------------------------------------------------------------


Language = Literal["zh-CN", "en"]


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
        from gateway.reports.periods import check_frequency

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
    hold: bool = False  # legal hold: nothing of this project is purged (gateway/retention.py)

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


# --- loading ----------------------------------------------------------------------------------


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


MIN_SECRET = 16


def _secret_key(data_dir: Path, environ: Mapping[str, str]) -> bytes:
    value = environ.get(ENV_PREFIX + "SECRET_KEY", "")
    if value:
        if len(value) < MIN_SECRET:
            raise ConfigError("secret key is shorter than 16 characters", file="environment",
                              key="COMMGATE_SECRET_KEY", hint="use e.g. `openssl rand -hex 32`")
        return value.encode()
    key_file = data_dir / "secret_key"
    if not key_file.exists():
        _create_secret_key(data_dir, key_file)
    try:
        key = key_file.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the secret key: {exc}", file=str(key_file)) from None
    if len(key) < MIN_SECRET:
        raise ConfigError(f"the secret key file is {'empty' if not key else 'too short'} "
                          f"({len(key)} characters, at least {MIN_SECRET} needed)",
                          file=str(key_file),
                          hint="restore it from a backup (reply addresses and archive "
                               "signatures depend on it), or delete it to make a new one")
    return key.encode()


def _create_secret_key(data_dir: Path, key_file: Path) -> None:
    """Make the key file whole or not at all: written to a private temporary file, then linked
    to its name, which fails if another process got there first (its key is the one kept).
    Readers never see a half-written or empty file."""
    make_private_dir(data_dir)
    tmp = data_dir / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, key_file)
    finally:
        tmp.unlink(missing_ok=True)


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) as 0700: the data folder holds the key, mail and records."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # a folder we do not own is the operator's choice
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o700)


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
    secret = _secret_key(Path(gateway.data_dir), environ)
    return Settings(gateway=gateway, projects=projects, config_path=path, secret_key=secret)
