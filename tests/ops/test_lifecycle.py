"""A real ``python -m gateway serve``: SIGTERM finishes the DATA in progress, SIGHUP reloads."""

from __future__ import annotations

import signal
import smtplib
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from gateway.store.models import Message
from tests.ops.helpers import get, value
from tests.ops.serve import RawSmtp, Serve, refuses_connections
from tests.support.mail import make_mail, wait_for

pytestmark = pytest.mark.slow

DEMO = "proj-demo@gw.example.com"
OPS2 = "proj-ops2@gw.example.com"


def rcpt_code(port: int, address: str) -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo()
        smtp.mail("lina@xdyj.example.com")
        return smtp.rcpt(address)[0]


def send(port: int, to: str, subject: str) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.send_message(make_mail(subject=subject, cc=to), to_addrs=[to])


def second_project(config_dir: Path) -> str:
    demo = (config_dir / "projects" / "demo.toml").read_text()
    return demo.replace('code = "demo"', 'code = "ops2"').replace(DEMO, OPS2)


def test_sigterm_lets_the_data_in_progress_finish_then_exits_0(config_dir: Path,
                                                              tmp_path: Path) -> None:
    serve = Serve(config_dir / "gateway.toml", tmp_path / "var")
    try:
        # Given a client in the middle of its DATA
        mail = make_mail(subject="停机时正在发送的邮件", body="巡检正常。\n",
                         message_id="<shutdown-1@xdyj.example.com>")
        raw = mail.as_bytes(policy=mail.policy.clone(linesep="\r\n"))
        client = RawSmtp(serve.smtp_port)
        assert client.command("EHLO client.example")[0] == 250
        assert client.command("MAIL FROM:<lina@xdyj.example.com>")[0] == 250
        assert client.command(f"RCPT TO:<{DEMO}>")[0] == 250
        assert client.command("DATA")[0] == 354
        client.send(raw[: len(raw) // 2])

        # When the gateway is told to stop
        serve.signal(signal.SIGTERM)

        # Then it stops listening and says so on /healthz, but the session goes on
        wait_for(lambda: refuses_connections(serve.smtp_port))
        status, body = get(serve.ops_url + "/healthz")
        assert status == 503 and b"shutting down" in body
        client.send(raw[len(raw) // 2:] + b".\r\n")
        code, text = client.reply()
        assert code == 250, text
        client.close()
        assert serve.stop() == 0, "\n".join(serve.lines)
    finally:
        serve.kill()

    # and the message it acknowledged is stored, and was processed before the workers stopped
    engine = create_engine(f"sqlite:///{serve.database}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Message.message_id, Message.state)).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [("shutdown-1@xdyj.example.com", "processed")]
    assert serve.find("waiting for 1 SMTP transaction(s) to finish")


def test_sighup_adds_a_project_and_a_broken_file_keeps_the_running_config(
        config_dir: Path, tmp_path: Path) -> None:
    serve = Serve(config_dir / "gateway.toml", tmp_path / "var")
    try:
        # Given a project the gateway does not know yet
        assert rcpt_code(serve.smtp_port, OPS2) == 550
        new_file = config_dir / "projects" / "ops2.toml"
        new_file.write_text(second_project(config_dir))

        # When it is told to reload, its address is accepted
        mark = len(serve.lines)
        serve.signal(signal.SIGHUP)
        wait_for(lambda: serve.find("configuration reloaded: 2 project(s)", mark))
        send(serve.smtp_port, OPS2, "新项目的第一封邮件")

        # When the file is broken and it is told to reload again
        new_file.write_text(second_project(config_dir).replace("name = ", "nmae = ", 1))
        mark = len(serve.lines)
        serve.signal(signal.SIGHUP)
        refused = wait_for(lambda: serve.find("configuration reload refused", mark))

        # Then the one-line cause names the file and key, and the running config still serves
        assert "ops2.toml: name: required key is missing" in refused
        send(serve.smtp_port, OPS2, "重载失败后仍然接收")
        send(serve.smtp_port, DEMO, "演示项目照常接收")
        status, body = get(serve.ops_url + "/metrics")
        assert status == 200
        from prometheus_client.parser import text_string_to_metric_families

        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for f in text_string_to_metric_families(body.decode()) for s in f.samples}
        assert value(samples, "commgate_config_reloads_total", result="ok") == 1
        assert value(samples, "commgate_config_reloads_total", result="refused") == 1
        assert serve.stop() == 0, "\n".join(serve.lines)
    finally:
        serve.kill()
