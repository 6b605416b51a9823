"""A zip bomb attachment is stored as one attachment with its size, and never unpacked.

The zip holds 4 GiB of zeros in 4 MB. It is sent over SMTP, then processed in this thread while
``zipfile`` and ``zlib`` decompression are booby-trapped and memory is traced: the record gets
one attachment of the zip's own size, nothing opens the archive, and the peak of Python
allocations stays far below what unpacking one member would take.
"""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from gateway.app import App
from gateway.pipeline import process
from gateway.records.query import record_details
from gateway.store.db import unit_of_work
from gateway.store.models import Record
from tests.security.bombs import with_attachment, zip_bomb
from tests.security.helpers import messages, send


def test_a_zip_bomb_is_one_attachment_and_never_unpacked(
        app: App, serve: Callable[..., int], monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = zip_bomb()  # 4 × 1 GiB of zeros
    assert sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(bomb)).infolist()) == 4 << 30
    port = serve(app, run_workers=False)  # stored only: this test runs the pipeline itself
    send(port, with_attachment("【报告】巡检数据", "zip-bomb@xdyj.example.com", "巡检数据.zip",
                               "application/zip", bomb))
    [stored] = messages(app)

    calls: list[str] = []
    for name in ("open", "extract", "extractall", "read", "testzip"):
        def refuse(*args: Any, _name: str = name, **kwargs: Any) -> Any:
            calls.append(_name)
            raise AssertionError(f"ZipFile.{_name} called while processing mail")
        monkeypatch.setattr(zipfile.ZipFile, name, refuse)
    tracemalloc.start()
    try:
        state = process(app, stored.id)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    monkeypatch.undo()

    assert calls == []
    assert state == "processed", messages(app)[0].error
    assert peak < 256 * 1024 * 1024, f"peak {peak} bytes: was something unpacked?"
    with unit_of_work(app.sessions) as session:
        record_id = session.scalars(select(Record.id)).one()
        details = record_details(session, record_id, app.settings.project("demo"),
                                 now=app.clock())
    assert details["attachment_files"] == [{
        "filename": "巡检数据.zip", "content_type": "application/zip", "size": len(bomb),
        "message_id": "zip-bomb@xdyj.example.com"}]
