"""A zip writer that streams every entry and keeps the SHA-256 manifest on disk, not in memory.

Each entry is written through ``ZipFile.open(name, "w")`` (no whole file in memory) and hashed
on the way; the ``sha256sum``-format manifest lines go to a temporary file and become the last
entry, ``MANIFEST.sha256``. Non-ASCII names (Chinese attachment names) are stored in UTF-8 with
the zip "language encoding" flag (APPNOTE.TXT §4.4.4 bit 11), which Python's zipfile sets for
any name that is not ASCII — Windows Explorer, 7-Zip and Info-ZIP then show them correctly.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

MANIFEST = "MANIFEST.sha256"
CHUNK = 1024 * 1024
ZIP64_FROM = 1 << 31


class _Hashing(io.RawIOBase):
    """Passes bytes to the zip entry and hashes them (a text wrapper can sit on top)."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.digest.update(view)
        self.target.write(view)
        self.size += len(view)
        return len(view)


class ArchiveWriter:
    """Entries in, manifest last; ``close()`` finishes the zip."""

    def __init__(self, path: Path, *, when: datetime) -> None:
        self.zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED,
                                   compresslevel=6, allowZip64=True)
        self.when = when.timetuple()[:6]
        self.names: set[str] = set()
        self.bytes_written = 0
        # Closed by close()/abort(): the writer's lifetime is the context.
        self._manifest = tempfile.TemporaryFile(  # noqa: SIM115
            mode="w+", encoding="utf-8", newline="\n")

    def _info(self, name: str, *, compress: bool) -> zipfile.ZipInfo:
        if name in self.names or name == MANIFEST:
            raise ValueError(f"duplicate archive entry {name!r}")
        self.names.add(name)
        info = zipfile.ZipInfo(name, date_time=self.when)
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        return info

    def _note(self, name: str, hashing: _Hashing) -> None:
        self._manifest.write(f"{hashing.digest.hexdigest()}  {name}\n")
        self.bytes_written += hashing.size

    def add_bytes(self, name: str, data: bytes, *, compress: bool = True) -> str:
        return self.add_chunks(name, [data], size=len(data), compress=compress)

    def add_chunks(self, name: str, chunks: Iterable[bytes], *, size: int | None = None,
                   compress: bool = True) -> str:
        """Write ``chunks`` as one entry; its SHA-256 (hex)."""
        info = self._info(name, compress=compress)
        big = size is None or size >= ZIP64_FROM
        with self.zip.open(info, "w", force_zip64=big) as entry:
            hashing = _Hashing(entry)
            for chunk in chunks:
                hashing.write(chunk)
        self._note(name, hashing)
        return hashing.digest.hexdigest()

    def add_file(self, name: str, source: Path, *, compress: bool = True) -> str:
        def chunks() -> Iterable[bytes]:
            with source.open("rb") as fh:
                while block := fh.read(CHUNK):
                    yield block

        return self.add_chunks(name, chunks(), size=source.stat().st_size, compress=compress)

    def text(self, name: str, *, bom: bool = False) -> _TextEntry:
        """A text entry to write to (UTF-8; ``bom`` for CSV that Excel must read as UTF-8)."""
        return _TextEntry(self, name, bom=bom)

    def close(self, sign: Callable[[str], tuple[str, bytes]] | None = None) -> None:
        """Write the manifest, then — given ``sign``, called with the manifest's SHA-256 —
        the entry it returns (name, bytes): the manifest's signature, outside the manifest."""
        self._manifest.seek(0)
        info = zipfile.ZipInfo(MANIFEST, date_time=self.when)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        digest = hashlib.sha256()
        with self.zip.open(info, "w") as entry:
            while block := self._manifest.read(CHUNK):
                data = block.encode("utf-8")
                digest.update(data)
                entry.write(data)
        self._manifest.close()
        if sign is not None:
            name, signature = sign(digest.hexdigest())
            info = zipfile.ZipInfo(name, date_time=self.when)
            info.external_attr = 0o644 << 16
            self.zip.writestr(info, signature)
        self.zip.close()

    def abort(self) -> None:
        self._manifest.close()
        self.zip.close()


class _TextEntry:
    def __init__(self, writer: ArchiveWriter, name: str, *, bom: bool) -> None:
        self.writer = writer
        self.name = name
        self.bom = bom

    def __enter__(self) -> io.TextIOWrapper:
        info = self.writer._info(self.name, compress=True)
        self._entry = self.writer.zip.open(info, "w", force_zip64=True)
        self._hashing = _Hashing(self._entry)
        self._text = io.TextIOWrapper(io.BufferedWriter(self._hashing, CHUNK),
                                      encoding="utf-8-sig" if self.bom else "utf-8",
                                      newline="")
        return self._text

    def __exit__(self, *exc: object) -> None:
        self._text.flush()
        self._text.detach().flush()
        self._entry.close()
        self.writer._note(self.name, self._hashing)
