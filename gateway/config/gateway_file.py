"""The gateway file's schema (``config/gateway.toml``): listeners, database and broker, outbound
delivery, the ops endpoint.

Every key can be overridden from the environment (``COMMGATE_SMTP__PORT``; gateway/config/files.py
reads the overrides). Only the keys of :data:`gateway.runtime.reload.RESTART_KEYS` need a restart
when they change.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.config.fields import Domain


class _Model(BaseModel):  # every table: frozen, and a misspelt key is an error
    model_config = ConfigDict(extra="forbid", frozen=True)


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
