"""The command line as a user meets it: real processes, one-line errors, no tracebacks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.mail import make_mail


def commgate(*args: str, cwd: Path, env: dict[str, str] | None = None,
             check: bool = True) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("COMMGATE_")}
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "gateway", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def workdir(tmp_path: Path, config_dir: Path) -> Path:
    """A folder laid out like the repository: config/ and (later) var/."""
    return config_dir.parent


def test_ingest_sync_then_records_list_and_export(workdir: Path, tmp_path: Path) -> None:
    eml = tmp_path / "directive.eml"
    eml.write_bytes(bytes(make_mail(subject="【指令】今晚22:00前完成核心交换机巡检")))
    out = commgate("ingest", "--project", "demo", "--sync", str(eml), cwd=workdir)
    assert "stored 1" in out.stdout
    listing = commgate("records", "list", "--project", "demo", cwd=workdir)
    assert "今晚22:00前完成核心交换机巡检" in listing.stdout
    exported = commgate("records", "export", "--project", "demo", "--format", "jsonl",
                        cwd=workdir)
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    assert len(rows) == 1
    for key in ("id", "project", "thread_id", "subject", "category", "stakeholder_group",
                "formality", "receipt_required", "receipts", "message_ids", "created_at"):
        assert key in rows[0]
    assert rows[0]["project"] == "demo"
    assert rows[0]["category"] == "directive"
    # importing the same file again stores nothing new
    again = commgate("ingest", "--project", "demo", "--sync", str(eml), cwd=workdir)
    assert "stored 0, already known 1" in again.stdout


def test_ingest_reads_mbox_and_maildir(workdir: Path, tmp_path: Path) -> None:
    import mailbox

    mbox = mailbox.mbox(tmp_path / "old.mbox")
    maildir = mailbox.Maildir(tmp_path / "Maildir")
    for i in range(3):
        mbox.add(make_mail(subject=f"周例会安排 {i}"))
        maildir.add(make_mail(subject=f"备件采购 {i}"))
    mbox.close()
    out = commgate("ingest", "-p", "demo", "--sync", str(tmp_path / "old.mbox"),
                   str(tmp_path / "Maildir"), cwd=workdir)
    assert "stored 6" in out.stdout


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda t: t.replace('max_recipients = 100', 'max_recipients = 100\nmax_recipents = 5'),
     ["gateway.toml", "smtp.max_recipents", "unknown key", "against config/gateway.toml"]),
    (lambda t: t.replace('domain = "gw.example.com"', ''),
     ["gateway.toml: domain: required key is missing", "proj-<code>@<domain>"]),
])
def test_gateway_config_errors_name_file_and_key(workdir: Path, edit: object,
                                                 expected: list[str]) -> None:
    path = workdir / "config" / "gateway.toml"
    path.write_text(edit(path.read_text()))  # type: ignore[operator]
    proc = commgate("check-config", cwd=workdir, check=False)
    assert proc.returncode == 2
    for word in expected:
        assert word in proc.stderr
    assert "Traceback" not in proc.stderr
    assert ".example.toml" not in proc.stderr  # no such files are shipped
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("old", "new", "expected"), [
    ('email = "lina@xdyj.example.com"', 'email = "lina at xdyj"', ["demo.toml", "members[3].email",
                                                                   "not a mail address"]),
    ('frequency = "weekly"', 'frequency = "weekyl"',
     ["demo.toml: matrix[2].frequency", "'weekyl'", "weekly [mon", "monthly", "immediately"]),
    ('frequency = "immediately"', 'frequency = "weekly friyay 18:00"',
     ["matrix[3].frequency", "'friyay'"]),
    ('recipients = ["wulei@xdyj.example.com"]', 'recipients = ["wulei@xdyj.example"]',
     ["demo.toml: matrix[4].recipients[1]", "wulei@xdyj.example is not a member, stakeholder",
      "did you mean wulei@xdyj.example.com?"]),
    ('recipients = ["wulei@xdyj.example.com"]', 'recipients = ["wulei at xdyj"]',
     ["matrix[4].recipients[1]", "not a mail address"]),
    ('group = "customer"', 'group = "client"', ["stakeholders[2].group", "'customer'"]),
    ('role = "dept_manager"', 'role = "engineer"', ["demo.toml", "dept_manager"]),
    ('retention_years = 3', 'retention_years = 2', ["retention_years", "greater than or equal"]),
    ('code = "demo"', 'code = "demo"\ncolour = "red"', ["colour", "unknown key",
                                                       "against config/projects/demo.toml"]),
])
def test_project_config_errors_name_file_key_and_hint(workdir: Path, old: str, new: str,
                                                      expected: list[str]) -> None:
    path = workdir / "config" / "projects" / "demo.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    proc = commgate("check-config", cwd=workdir, check=False)
    assert proc.returncode == 2, proc.stdout
    for word in expected:
        assert word in proc.stderr
    assert "Traceback" not in proc.stderr
    assert ".example.toml" not in proc.stderr


def test_environment_overrides_the_file_and_is_validated(workdir: Path) -> None:
    ok = commgate("check-config", cwd=workdir, env={"COMMGATE_DOMAIN": "gw.example.com"})
    assert "demo" in ok.stdout
    bad = commgate("check-config", cwd=workdir, env={"COMMGATE_SMTP__PORT": "seventy"},
                   check=False)
    assert bad.returncode == 2
    assert "COMMGATE_SMTP__PORT" in bad.stderr and "Traceback" not in bad.stderr


def test_unknown_project_is_one_line(workdir: Path) -> None:
    proc = commgate("records", "list", "--project", "nope", cwd=workdir, check=False)
    assert proc.returncode == 2
    assert "no project 'nope'" in proc.stderr and "demo" in proc.stderr


def test_serve_without_a_broker_refuses_to_start_a_worker(workdir: Path) -> None:
    proc = commgate("worker", cwd=workdir, check=False)
    assert proc.returncode == 2
    assert "no broker_url" in proc.stderr


def test_commands_print_results_and_keep_the_log_in_the_log_file(workdir: Path,
                                                                 tmp_path: Path) -> None:
    # Given a directive imported with --sync (the pipeline logs at INFO as it works)
    eml = tmp_path / "directive.eml"
    eml.write_bytes(bytes(make_mail(subject="【指令】今晚22:00前完成核心交换机巡检")))
    quiet = commgate("ingest", "--project", "demo", "--sync", str(eml), cwd=workdir)
    # Then stdout has the result and stderr none of the gateway's INFO lines
    assert "stored 1" in quiet.stdout
    assert " INFO " not in quiet.stderr, quiet.stderr
    # and the log is in <data_dir>/commgate.log
    log = (workdir / "var" / "commgate.log").read_text(encoding="utf-8")
    assert " INFO gateway.pipeline: " in log and "processed: record" in log
    # With --verbose (or -v) the log is shown as well
    eml.write_bytes(bytes(make_mail(subject="【指令】明早提交巡检报告")))
    loud = commgate("-v", "ingest", "--project", "demo", "--sync", str(eml), cwd=workdir)
    assert "stored 1" in loud.stdout
    assert " INFO gateway.pipeline: " in loud.stderr


def _trust_from_lines(workdir: Path) -> None:
    """Edit the demo project so that nothing authenticates replies (issue 16)."""
    demo = workdir / "config" / "projects" / "demo.toml"
    text = demo.read_text(encoding="utf-8")
    old = 'trusted_authserv_ids = ["mx.xdyj.example.com"]'
    assert old in text
    demo.write_text(text.replace(old, "trusted_authserv_ids = []"), encoding="utf-8")


def test_check_config_says_loudly_when_replies_are_trusted_by_their_from_line(
        workdir: Path) -> None:
    env = {"COMMGATE_DOMAIN": "gw.example.com"}
    quiet = commgate("check-config", cwd=workdir, env=env)
    assert "From" not in quiet.stderr
    _trust_from_lines(workdir)
    loud = commgate("check-config", cwd=workdir, env=env)
    assert loud.returncode == 0  # a warning, not an error: the config is valid
    [line] = [x for x in loud.stderr.splitlines() if "WARNING" in x]
    assert "project demo" in line and "From line alone" in line
    assert "trusted_authserv_ids" in line and "dkim_verify" in line


@pytest.mark.slow
def test_serve_says_loudly_when_replies_are_trusted_by_their_from_line(
        workdir: Path, tmp_path: Path) -> None:
    from tests.ops.serve import Serve

    _trust_from_lines(workdir)
    serve = Serve(workdir / "config" / "gateway.toml", tmp_path / "serve-var")
    try:
        warning = serve.find("From line alone")
        assert warning is not None and "WARNING" in warning and "project demo" in warning, \
            "\n".join(serve.lines)
        assert serve.stop() == 0
    finally:
        serve.kill()


@pytest.mark.slow
def test_serve_on_a_port_already_taken_says_so_in_one_line_and_exits(workdir: Path) -> None:
    # Given a port some other program listens on (a second `commgate serve`, an MTA)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        # When `commgate serve` is started on it
        started = time.monotonic()
        proc = commgate("serve", cwd=workdir, check=False,
                        env={"COMMGATE_SMTP__PORT": str(port), "COMMGATE_OPS__PORT": "0",
                             "COMMGATE_SECRET_KEY": "test-secret-key-0123456789"})
    # Then it stops by itself (nothing left running: no hang), naming the address and the
    # key to change, in one line and without a traceback
    assert proc.returncode != 0 and time.monotonic() - started < 120
    errors = [line for line in proc.stderr.splitlines() if line.startswith("commgate:")]
    assert len(errors) == 1, proc.stderr
    assert f"127.0.0.1:{port}" in errors[0] and "already in use" in errors[0], errors
    assert "[smtp] port" in errors[0] and "Traceback" not in proc.stderr
