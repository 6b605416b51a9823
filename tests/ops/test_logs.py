"""Structured logs: every line about a message names it, in text and in JSON."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from gateway.app import App
from gateway.config.settings import GatewayConfig
from gateway.inbound.intake import accept
from gateway.observe.logs import (
    ContextFilter,
    JsonFormatter,
    TextFormatter,
    add_log_context,
    log_context,
    setup_logging,
)
from gateway.pipeline import process
from tests.support.mail import make_mail

log = logging.getLogger("gateway.test")


@pytest.fixture
def stream() -> Iterator[tuple[io.StringIO, logging.Handler]]:
    """A handler like setup_logging's, writing into a string; the text format by default."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(ContextFilter())
    handler.setFormatter(TextFormatter())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    yield out, handler
    log.removeHandler(handler)


def test_text_lines_inside_a_message_context_carry_its_ids(
        stream: tuple[io.StringIO, logging.Handler]) -> None:
    out, _ = stream
    log.info("before")
    with log_context(message_id="<abc@xdyj.example.com>", message_pk=17):
        log.info("stored")
        add_log_context(record_id=42)
        log.info("recorded")
        with log_context(record_id=None, channel="smtp"):  # None adds nothing
            log.info("nested")
    log.info("after")

    lines = [line.split(": ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines == [
        "before",
        "[<abc@xdyj.example.com> M17] stored",
        "[<abc@xdyj.example.com> M17 R42] recorded",
        "[<abc@xdyj.example.com> M17 R42] nested",
        "after",
    ]


def test_json_lines_carry_the_context_as_keys(
        stream: tuple[io.StringIO, logging.Handler]) -> None:
    out, handler = stream
    handler.setFormatter(JsonFormatter())
    with log_context(message_id="abc@xdyj.example.com", record_id=42, channel="smtp"):
        log.warning("收到 %d", 1)

    line = json.loads(out.getvalue())
    assert line["msg"] == "收到 1"
    assert line["level"] == "WARNING"
    assert line["logger"] == "gateway.test"
    assert (line["message_id"], line["record_id"], line["channel"]) == \
        ("abc@xdyj.example.com", 42, "smtp")


def test_concurrent_sessions_each_log_their_own_message(
        stream: tuple[io.StringIO, logging.Handler]) -> None:
    out, _ = stream

    async def session(mid: str) -> None:
        with log_context(message_id=mid):
            for step in range(3):
                log.info("step %d", step)
                await asyncio.sleep(0)  # let the other session run in between

    async def both() -> None:
        await asyncio.gather(session("a@x"), session("b@x"))

    asyncio.run(both())
    lines = [line.split(": ", 1)[1] for line in out.getvalue().splitlines()]
    assert sorted(lines) == sorted(f"[<{m}@x>] step {n}" for m in "ab" for n in range(3))
    assert lines[:2] == ["[<a@x>] step 0", "[<b@x>] step 0"]  # interleaved, yet each its own


def test_a_context_key_may_not_overwrite_the_log_record() -> None:
    with pytest.raises(ValueError, match="msg"), log_context(msg="x"):
        pass


def test_every_pipeline_line_names_the_message_and_its_record(
        ops_app: App, capsys: pytest.CaptureFixture[str]) -> None:
    # Given the gateway's JSON logging, and a stored message
    level = logging.getLogger().level
    setup_logging(GatewayConfig(domain="gw.example.com", log_format="json", log_level="DEBUG"))
    try:
        mail = make_mail(subject="机房巡检记录", body="巡检正常。\n",
                         message_id="<ops-log-1@xdyj.example.com>")
        stored = accept(ops_app, project="demo", raw=mail.as_bytes(), channel="import")
        capsys.readouterr()
        # When the pipeline processes it
        assert process(ops_app, stored.message_pk) == "processed"
        output = capsys.readouterr().err
    finally:
        for handler in list(logging.getLogger().handlers):
            if getattr(handler, "_commgate", False):
                logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(level)

    # Then every line it wrote carries the message, and the record once there is one
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    ours = [line for line in lines if line["logger"].startswith("gateway.")]
    assert ours, output
    assert all(line.get("message_pk") == stored.message_pk for line in ours), ours
    assert all(line.get("message_id") == "ops-log-1@xdyj.example.com" for line in ours), ours
    done = [line for line in ours if "processed" in line["msg"]]
    assert done and isinstance(done[-1].get("record_id"), int), ours
