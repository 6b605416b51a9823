"""The gateway's exception tree: every error we raise on purpose derives from ``GatewayError``.

::

    GatewayError
    ├── ConfigError            a config file or environment variable is wrong (file, key, hint)
    ├── StoreError             the raw store or database cannot take a message (temporary: 4xx)
    │   └── RowRefused         the database refused this message's rows (not the database
    │                          being down): in a shared batch, only this message fails
    ├── IntakeClosed           the project no longer accepts mail (closed, handed over)
    ├── UnsafeHeader           a header value or address holds CR/LF/NUL or is no address
    ├── NoticeInvalid          a notice or report lacks a field it needs (named), or is unknown
    ├── RecordsError           a records command cannot do what was asked (no such record,
    │                          search index not installed)
    │   └── RecordEditError    a merge, split or correction of records that cannot be done
    │                          as asked (the records stay as they were)
    ├── ReceiptsError          a receipts command cannot do what was asked (no such record or
    │                          recipient, a move the receipt states do not allow)
    ├── RetentionRefused       a purge inside retention, not archived, or on legal hold
    ├── ArchiveError           an archive cannot be written or read (path, manifest)
    ├── ConnectorError         the business-process system did not take a delivery (retried)
    ├── RelayUnavailable       the outbound relay cannot be reached at all: the delivery
    │                          batch stops, every mail stays queued
    ├── OutboxBusy             an outbox mail cannot be retried: it is being sent right now
    │                          (also a ValueError, for the callers that catch one)
    ├── AppNotBound            a job ran before its process bound an App to the actors
    │                          (also a RuntimeError, for the callers that catch one)
    └── PipelineSignal         an expected outcome of a pipeline stage, caught by the driver
        ├── Quarantine         the message cannot be processed; raw bytes kept, reason recorded
        └── Discard            the message needs no record (e.g. our own mail looping back)

Users see ``str(error)`` — one line with the cause and, where we know one, a hint — never a
traceback unless they pass ``--debug``.

Every error can say which mail and which pipeline stage it concerns: ``message_id`` and
``stage``, both optional. A pipeline signal is raised with its stage; the pipeline driver
(gateway/pipeline/__init__.py) names the Message-ID (and, for an error a stage let out, the
stage) with :meth:`GatewayError.at` when it catches one. Once the Message-ID is known,
``str(error)`` leads with it — ``<id@host> at receipts: cause (hint: …)`` — and
:attr:`GatewayError.reason` is the cause and hint alone (what a quarantined message's ``error``
column keeps, after its stage).
"""

from __future__ import annotations

from typing import Self


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""

    message_id: str | None = None  # the mail concerned, once the pipeline driver named it
    stage: str | None = None  # the pipeline stage it happened in, when there was one

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def at(self, *, message_id: str | None = None, stage: str | None = None) -> Self:
        """Name the mail and the stage this error concerns; what it already names is kept."""
        self.message_id = self.message_id or message_id
        self.stage = self.stage or stage
        return self

    @property
    def reason(self) -> str:
        """The cause and hint, without the mail and stage."""
        if self.hint:
            return f"{self.message} (hint: {self.hint})"
        return self.message

    def __str__(self) -> str:
        if self.message_id is None:  # outside the pipeline: the one-line cause, as always
            return self.reason
        where = f" at {self.stage}" if self.stage else ""
        return f"<{self.message_id}>{where}: {self.reason}"


class ConfigError(GatewayError):
    """A configuration problem, located by file and key."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.file = file
        self.key = key

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.key) if part)
        text = f"{where}: {self.message}" if where else self.message
        return f"{text} (hint: {self.hint})" if self.hint else text


class StoreError(GatewayError):
    """The message could not be made durable; the sender should retry later."""


class RowRefused(StoreError):
    """The database refused the rows themselves (a value it cannot store), not the connection.

    A batch that fails this way is committed again one message at a time, so only the message
    at fault fails (gateway/inbound/groupcommit.py)."""


class IntakeClosed(GatewayError):
    """The project is closed; its address no longer accepts mail."""


class PipelineSignal(GatewayError):
    """An expected outcome of a stage; the pipeline driver catches it."""

    stage: str  # a signal always names its stage

    def __init__(self, message: str, *, stage: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.stage = stage


class Quarantine(PipelineSignal):
    """Keep the raw message, stop processing it, and record why."""


class Discard(PipelineSignal):
    """The message is stored but needs no record."""


class UnsafeHeader(GatewayError):
    """A value meant for a mail header could inject a header or a recipient (CR, LF, NUL…)."""


class NoticeInvalid(GatewayError):
    """A notice or report cannot be rendered: unknown kind, or a required field is missing."""


class RecordsError(GatewayError):
    """A records command cannot do what was asked: no such record, or no search index yet."""


class ReceiptsError(GatewayError):
    """A person's receipt decision cannot be applied: nothing matches, or the move is refused."""


class RetentionRefused(GatewayError):
    """A purge was refused: inside retention (policy 7: ≥ 3 years), not archived, or on hold."""


class ArchiveError(GatewayError):
    """An archive cannot be written or read: bad path, unreadable zip, missing manifest."""


class ConnectorError(GatewayError):
    """The business-process system (DingTalk, webhook) did not take a delivery; it is retried."""


class OutboxBusy(GatewayError, ValueError):
    """An outbox mail cannot be retried now: a worker is sending it (``outbox retry``)."""


class AppNotBound(GatewayError, RuntimeError):
    """A job actor ran in a process that never called ``gateway.jobs.actors.bind(app)``."""


class RecordEditError(RecordsError):
    """A merge, split or correction of records that cannot be done as asked (the records stay
    as they were)."""


class RelayUnavailable(GatewayError):
    """The outbound relay cannot be reached at all (connection refused, authentication failed,
    the outbox folder unwritable): the delivery batch stops and everything stays queued
    (gateway/notify/outbox.py)."""
