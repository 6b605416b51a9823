"""The handover archive: a project built through the real pipeline exports to a zip that
verifies, holds the mail as received with Chinese attachment names intact, opens in Excel and
in a browser offline — and any change to it is named by ``archive verify``."""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.parse
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.app import App
from gateway.archive.export import export_project
from gateway.archive.verify import verify_archive
from gateway.cli.main import app as cli
from gateway.store.db import unit_of_work
from gateway.store.models import Message
from tests.audit.helpers import change_notice, deliver, gbk_attachment_mail
from tests.support.raw import overwrite_raw

PLAN = "割接方案（第2版）.docx"
EVIL = "../../etc/cron.d/x.sh"
REPORT = "巡检报告2026年11月.pdf"


@pytest.fixture
def project(app: App) -> App:
    """Three mails: a change notice with attachments, the client's reply, a GBK-named report."""
    first = change_notice(attachments={PLAN: b"PK\x03\x04 plan " * 100, EVIL: b"rm -rf /"},
                          message_id="<cn-1@xdyj.example.com>")
    deliver(app, first)
    reply = change_notice("Re: 【变更通知】核心交换机割接时间调整", message_id="<cn-2@client>")
    reply.replace_header("From", "huang@client.example.cn")
    reply.replace_header("To", "zhangwei@xdyj.example.com")
    reply["In-Reply-To"] = reply["References"] = "<cn-1@xdyj.example.com>"
    deliver(app, reply)
    deliver(app, gbk_attachment_mail(REPORT, b"%PDF-1.4 report"))
    return app


def rewrite(src: Path, dst: Path, change: dict[str, bytes]) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, change.get(info.filename, zin.read(info.filename)))


def test_export_then_verify_round_trips(project: App, tmp_path: Path) -> None:
    out = tmp_path / "demo-archive.zip"
    result = export_project(project, "demo", out, actor="user:test")
    assert (result.messages, result.attachments, result.problems) == (3, 3, [])
    assert verify_archive(out) == []
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        # Every raw message, byte for byte
        with unit_of_work(project.sessions) as s:
            for m in s.query(Message).all():
                assert zf.read(f"messages/{m.id:07d}.eml") == project.raw.get(m.sha256)
        # Chinese names kept (UTF-8 flag set), the hostile one reduced to a file name
        plan = next(n for n in names if n.endswith(PLAN))
        assert zf.getinfo(plan).flag_bits & 0x800
        assert any(n.endswith("/" + REPORT) for n in names)
        assert not any(".." in n or n.startswith("/") for n in names)
        assert any(n.endswith("/x.sh") for n in names)
        # Records for Excel (BOM) and for programs; one form per record; the audit log
        csv = zf.read("records.csv")
        assert csv.startswith(b"\xef\xbb\xbf") and "割接时间调整".encode() in csv
        views = [json.loads(line) for line in zf.read("records.jsonl").splitlines()]
        assert {f"records/{v['id']}.html" for v in views} <= set(names)
        assert "关键沟通记录表" in zf.read(f"records/{views[0]['id']}.html").decode()
        assert "audit.jsonl" in names
        # The manifest is sha256sum's format and lists every file
        manifest = zf.read("MANIFEST.sha256").decode().splitlines()
        assert len(manifest) == len(names) - 2  # all but itself and its signature
        assert "MANIFEST.sig" in names
        digest, path = manifest[0].split("  ", 1)
        assert hashlib.sha256(zf.read(path)).hexdigest() == digest
        index = zf.read("index.html").decode()
    # The index works offline: no external resource, every link points inside the archive
    assert 'lang="zh-CN"' in index and "示例运维项目" in index
    assert not re.search(r"(src|href)=\"(https?:)?//", index)
    for link in re.findall(r'href="([^"#]+)"', index):
        assert urllib.parse.unquote(link) in names, link


def test_any_change_to_the_archive_is_named(project: App, tmp_path: Path) -> None:
    out = tmp_path / "demo.zip"
    export_project(project, "demo", out, actor="user:test")
    with zipfile.ZipFile(out) as zf:
        eml = next(n for n in zf.namelist() if n.startswith("messages/"))
        audit = zf.read("audit.jsonl")
        manifest = zf.read("MANIFEST.sha256").decode()
    # An altered mail
    rewrite(out, tmp_path / "a.zip", {eml: b"From: forged\r\n\r\nnothing"})
    assert any(p.startswith(f"{eml}: SHA-256 differs")
               for p in verify_archive(tmp_path / "a.zip"))
    # A forger who also fixes the manifest is still caught: the mail is not as received
    forged = b"From: forged\r\n\r\nnothing"
    fixed = manifest.replace(manifest.split(f"  {eml}")[0].splitlines()[-1],
                             hashlib.sha256(forged).hexdigest())
    rewrite(out, tmp_path / "b.zip", {eml: forged, "MANIFEST.sha256": fixed.encode()})
    assert any("not the mail as received" in p for p in verify_archive(tmp_path / "b.zip"))
    # An edited audit entry (manifest fixed too) breaks the chain, named by seq
    entry = json.loads(audit.splitlines()[0])
    entry["actor"] = "user:someone-else"
    edited = b"\n".join([json.dumps(entry, ensure_ascii=False).encode(),
                          *audit.splitlines()[1:]]) + b"\n"
    fixed = manifest.replace(hashlib.sha256(audit).hexdigest(),
                             hashlib.sha256(edited).hexdigest())
    rewrite(out, tmp_path / "c.zip", {"audit.jsonl": edited,
                                      "MANIFEST.sha256": fixed.encode()})
    problems = verify_archive(tmp_path / "c.zip")
    assert problems[0] == (f"audit.jsonl: audit seq 1 (event id {entry['id']}): content "
                           f"changed after it was written (content hash mismatch)")
    assert problems[1].startswith("audit.jsonl: audit seq 2") and "prev_hash" in problems[1]


def test_archive_commands_export_and_verify(project: App, config_dir: Path,
                                            tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k.startswith("COMMGATE_")}
    env.update({"COMMGATE_CONFIG": str(config_dir / "gateway.toml"),
                "COMMGATE_DATA_DIR": str(tmp_path / "var"),
                "COMMGATE_DATABASE_URL": project.settings.database_url,
                "COMMGATE_SECRET_KEY": "test-secret-key-0123456789"})
    runner = CliRunner()
    out = tmp_path / "demo-archive.zip"
    done = runner.invoke(cli, ["archive", "export", "--project", "demo", "--out", str(out)],
                         env=env)
    assert done.exit_code == 0, done.output
    assert "3 message(s), 3 attachment(s)" in done.output
    checked = runner.invoke(cli, ["archive", "verify", str(out)], env=env)
    assert checked.exit_code == 0 and "intact" in checked.output
    rewrite(out, tmp_path / "bad.zip", {"records.csv": b"tampered"})
    checked = runner.invoke(cli, ["archive", "verify", str(tmp_path / "bad.zip")], env=env)
    assert checked.exit_code == 1 and "records.csv: SHA-256 differs" in checked.output
    audit = runner.invoke(cli, ["audit", "verify", "--project", "demo"], env=env)
    assert audit.exit_code == 0 and "intact" in audit.output


def test_a_message_altered_in_the_raw_store_is_flagged_not_hidden(project: App,
                                                                  tmp_path: Path) -> None:
    with unit_of_work(project.sessions) as s:
        first = s.query(Message).order_by(Message.id).first()
        assert first is not None
        pk, sha = first.id, first.sha256
    overwrite_raw(project, sha, b"X-Tampered: yes\r\n" + project.raw.get(sha))
    result = export_project(project, "demo", tmp_path / "demo.zip", actor="user:test")
    assert any(p.startswith(f"message {pk} ") and "altered" in p for p in result.problems)
    problems = verify_archive(tmp_path / "demo.zip")
    assert any(p.startswith(f"message {pk} ") and "already altered" in p for p in problems)


def test_an_edited_file_with_a_recomputed_manifest_fails_the_signature(
        project: App, tmp_path: Path) -> None:
    out = tmp_path / "demo.zip"
    export_project(project, "demo", out, actor="user:test")
    key = project.settings.secret_key
    assert verify_archive(out, secret=key) == []
    with zipfile.ZipFile(out) as zf:
        manifest = zf.read("MANIFEST.sha256").decode()
        csv = zf.read("records.csv")
        signed = json.loads(zf.read("MANIFEST.sig"))
        head = json.loads(zf.read("archive.json"))["audit"]
    # The signature names the manifest and the audit chain head at export (the anchor)
    assert signed["alg"] == "HMAC-SHA256" and signed["audit"] == head and head["seq"] > 0
    # When a forger edits records.csv and recomputes its manifest line
    forged = csv.replace("割接时间调整".encode(), "割接取消".encode())
    fixed = manifest.replace(hashlib.sha256(csv).hexdigest(), hashlib.sha256(forged).hexdigest())
    rewrite(out, tmp_path / "f.zip", {"records.csv": forged, "MANIFEST.sha256": fixed.encode()})
    # Then the manifest alone is consistent, but the signature is not
    assert verify_archive(tmp_path / "f.zip") == []
    assert verify_archive(tmp_path / "f.zip", secret=key) == [
        "MANIFEST.sha256: not the manifest that was signed (edited or recomputed after export)"]
    # Re-signing needs the key: an edited signature, a removed one, another gateway's key fail
    edited = dict(signed, manifest_sha256=hashlib.sha256(fixed.encode()).hexdigest())
    rewrite(out, tmp_path / "g.zip", {"records.csv": forged, "MANIFEST.sha256": fixed.encode(),
                                      "MANIFEST.sig": json.dumps(edited).encode()})
    assert verify_archive(tmp_path / "g.zip", secret=key) == [
        "MANIFEST.sig: signature does not match (the signature file was edited)"]
    with zipfile.ZipFile(out) as zin, zipfile.ZipFile(tmp_path / "h.zip", "w") as zout:
        for info in zin.infolist():
            if info.filename != "MANIFEST.sig":
                zout.writestr(info, zin.read(info.filename))
    assert "MANIFEST.sig is missing" in verify_archive(tmp_path / "h.zip", secret=key)[0]
    assert "signed with another key" in verify_archive(out, secret=b"another-key-0123456789")[0]


def test_archive_verify_checks_the_signature_unless_told_not_to(
        project: App, config_dir: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k.startswith("COMMGATE_")}
    env.update({"COMMGATE_CONFIG": str(config_dir / "gateway.toml"),
                "COMMGATE_DATA_DIR": str(project.settings.data_dir),
                "COMMGATE_DATABASE_URL": project.settings.database_url,
                "COMMGATE_SECRET_KEY": project.settings.secret_key.decode()})
    out = tmp_path / "demo.zip"
    export_project(project, "demo", out, actor="user:test")
    with zipfile.ZipFile(out) as zf:
        manifest, csv = zf.read("MANIFEST.sha256").decode(), zf.read("records.csv")
    fixed = manifest.replace(hashlib.sha256(csv).hexdigest(), hashlib.sha256(b"x").hexdigest())
    rewrite(out, tmp_path / "f.zip", {"records.csv": b"x", "MANIFEST.sha256": fixed.encode()})
    runner = CliRunner()
    done = runner.invoke(cli, ["archive", "verify", str(out)], env=env)
    assert done.exit_code == 0 and "signature, mail hashes" in done.output, done.output
    done = runner.invoke(cli, ["archive", "verify", str(tmp_path / "f.zip")], env=env)
    assert done.exit_code == 1 and "not the manifest that was signed" in done.output
    done = runner.invoke(cli, ["archive", "verify", "--skip-signature", str(tmp_path / "f.zip")],
                         env=env)
    assert done.exit_code == 0 and "signature NOT checked" in done.output
