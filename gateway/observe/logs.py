"""Logging set-up: readable text by default, one JSON object per line when configured.

Every line about a message names it (STYLE rule 11): code that works on one message wraps the
work in :func:`log_context` (the pipeline driver, the SMTP DATA hook, the IMAP intake), and the
:class:`ContextFilter` on our handler copies those fields onto each record emitted inside,
whichever module logs it. Text lines get a ``[<message-id> M17 R42]`` prefix, JSON lines get
``message_id``, ``message_pk`` and ``record_id`` keys. The context lives in a
:mod:`contextvars` variable, so concurrent SMTP sessions (asyncio tasks) and worker threads each
see their own. Bodies and credentials are never put in the context.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from gateway.config.settings import GatewayConfig

# Never mutated: each change sets a new mapping, so the shared empty default is safe.
_CONTEXT: ContextVar[Mapping[str, Any]] = ContextVar("commgate_log_context",
                                                     default=MappingProxyType({}))

# The fields of the text prefix, in order, and how each is shown.
_PREFIX = (("message_id", "<{}>"), ("message_pk", "M{}"), ("record_id", "R{}"))
# LogRecord attributes that are not ours to overwrite with context fields.
_RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` (e.g. ``message_id=…, record_id=…``) to every log line emitted inside.

    ``None`` values are left out; nested blocks add to (and may override) the outer fields, and
    everything is restored on exit.
    """
    token = _CONTEXT.set({**_CONTEXT.get(), **_clean(fields)})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def add_log_context(**fields: Any) -> None:
    """Add fields to the current block (e.g. the record id once the record stage made it).

    They last until the enclosing :func:`log_context` block ends.
    """
    _CONTEXT.set({**_CONTEXT.get(), **_clean(fields)})


def current_log_context() -> Mapping[str, Any]:
    return _CONTEXT.get()


def _clean(fields: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None:
            continue
        if key in _RESERVED:
            raise ValueError(f"log context key {key!r} clashes with a LogRecord attribute")
        if key == "message_id" and isinstance(value, str):
            value = value.strip().strip("<>")  # shown once in brackets, however it was stored
        out[key] = value
    return out


class ContextFilter(logging.Filter):
    """Copies the current log context onto each record (``record.context`` + one attribute each).

    Attached to the handler, not to a logger: logger filters do not see records propagated from
    child loggers, and every module has its own logger.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        context = dict(_CONTEXT.get())
        record.context = context
        for key, value in context.items():
            setattr(record, key, value)
        parts = [fmt.format(context[key]) for key, fmt in _PREFIX if key in context]
        record.context_prefix = f"[{' '.join(parts)}] " if parts else ""
        return True


class TextFormatter(logging.Formatter):
    """``2026-11-24 10:00:00,123 INFO gateway.pipeline: [<id@host> M17 R42] message``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(context_prefix)s%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "context_prefix"):  # a handler without our filter
            record.context_prefix = ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``msg``, context keys, ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        context: Mapping[str, Any] = getattr(record, "context", None) or _CONTEXT.get()
        for key, value in context.items():
            data.setdefault(key, value)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted, not when the handler was
    made: a thread that logs after a caller swapped stderr (a test runner capturing a command's
    output, then closing it) never writes to a closed stream."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:  # StreamHandler.setStream; the target is fixed
        pass


def _handler(handler: logging.Handler, cfg: GatewayConfig) -> logging.Handler:
    handler._commgate = True  # type: ignore[attr-defined]
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if cfg.log_format == "json" else TextFormatter())
    return handler


def setup_logging(cfg: GatewayConfig, *, debug: bool = False, console: str | None = None,
                  log_file: Path | None = None) -> None:
    """Install (or replace, e.g. after a config reload) the gateway's handlers on the root.

    The services (``serve``, ``worker``, ``scheduler``) log at ``log_level`` on stderr. Ordinary
    commands print their results and pass ``console="WARNING"`` (``"INFO"`` with ``--verbose``)
    with a ``log_file``: the log then goes to that file at ``log_level``, and stderr shows only
    what the user must see.
    """
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_commgate", False):
            root.removeHandler(old)
            old.close()
    level: int = logging.DEBUG if debug else logging.getLevelName(cfg.log_level)
    stream = _handler(StderrHandler(), cfg)
    root_level = level
    if console is not None and not debug:
        shown: int = logging.getLevelName(console)
        stream.setLevel(shown)
        root_level = min(level, shown)
    root.addHandler(stream)
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            kept = _handler(logging.FileHandler(log_file, encoding="utf-8", delay=True), cfg)
        except OSError:  # a read-only data folder: the log is simply not kept
            pass
        else:
            kept.setLevel(level)
            root.addHandler(kept)
    root.setLevel(root_level)
    for noisy in ("mail.log", "dramatiq", "alembic", "pika"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
