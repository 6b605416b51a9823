"""Logging set-up: readable text by default, one JSON object per line when configured."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from gateway.config import GatewayConfig


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def setup_logging(cfg: GatewayConfig, *, debug: bool = False) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_commgate", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler._commgate = True  # type: ignore[attr-defined]
    if cfg.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else cfg.log_level)
    for noisy in ("mail.log", "dramatiq", "alembic", "pika"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
