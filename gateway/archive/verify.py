"""``commgate archive verify``: is this archive complete and unaltered?

Checks, streaming every entry (bounded memory even for GBs of attachments):

1. ``MANIFEST.sha256`` exists and every file in the zip is listed in it, and every listed file
   is present with that SHA-256;
2. every ``messages/<id>.eml`` hashes to the SHA-256 the gateway recorded when the message
   arrived (``messages.jsonl``) — so the copy is the mail as received, not merely self-consistent;
3. ``audit.jsonl`` is an unbroken hash chain (:func:`gateway.audit.chain.verify_chain`) ending at
the
   head recorded in ``archive.json``;
4. given the gateway's secret key, ``MANIFEST.sig`` (gateway/archive/signature.py) is the
   gateway's signature of this very manifest and head — so an edited ``records.csv`` with a
   recomputed manifest fails.

Anyone can repeat check 1 without commgate: unzip, ``sha256sum -c MANIFEST.sha256``.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gateway.archive import signature
from gateway.archive.zipstream import CHUNK, MANIFEST
from gateway.audit.chain import verify_chain
from gateway.errors import ArchiveError


def _sha256(zf: zipfile.ZipFile, name: str) -> str:
    digest = hashlib.sha256()
    with zf.open(name) as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _jsonl(zf: zipfile.ZipFile, name: str) -> Iterator[dict[str, Any]]:
    with zf.open(name) as fh:
        for line in io.TextIOWrapper(fh, encoding="utf-8"):
            if line.strip():
                yield json.loads(line)


def _manifest(zf: zipfile.ZipFile) -> dict[str, str]:
    listed: dict[str, str] = {}
    with zf.open(MANIFEST) as fh:
        for number, line in enumerate(io.TextIOWrapper(fh, encoding="utf-8"), 1):
            line = line.rstrip("\n")
            digest, sep, name = line.partition("  ")
            if not sep or len(digest) != 64:
                raise ArchiveError(f"{MANIFEST} line {number} is not in sha256sum format")
            listed[name] = digest
    return listed


def verify_archive(path: Path, *, secret: bytes | None = None) -> list[str]:
    """Every problem found, one line each; an empty list means the archive is intact.

    ``secret``: the gateway's secret key, to check the manifest's signature; None skips that
    check (the caller says so: ``archive verify --skip-signature``).
    """
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ArchiveError(f"cannot open {path}: {exc}") from None
    problems: list[str] = []
    with zf:
        names = [i.filename for i in zf.infolist() if not i.is_dir()]
        if MANIFEST not in names:
            return [f"{MANIFEST} is missing: the archive cannot be checked"]
        listed = _manifest(zf)
        actual: dict[str, str] = {}
        for name in names:
            if name in (MANIFEST, signature.SIGNATURE):
                continue
            if name not in listed:
                problems.append(f"{name}: not in the manifest (added after export)")
                continue
            try:
                actual[name] = _sha256(zf, name)
            except (zipfile.BadZipFile, OSError) as exc:  # CRC error: bytes changed in place
                problems.append(f"{name}: unreadable ({exc})")
                continue
            if actual[name] != listed[name]:
                problems.append(f"{name}: SHA-256 differs from the manifest (altered)")
        problems += [f"{name}: in the manifest but missing from the archive"
                     for name in listed if name not in names]
        problems += _check_messages(zf, names, actual)
        problems += _check_audit(zf, names)
        if secret is not None:
            problems += _check_signature(zf, names, secret)
    return problems


def _check_signature(zf: zipfile.ZipFile, names: list[str], secret: bytes) -> list[str]:
    if signature.SIGNATURE not in names:
        return [f"{signature.SIGNATURE} is missing: the manifest is not signed (removed, or "
                f"exported before archives were signed)"]
    try:
        head = json.loads(zf.read("archive.json")).get("audit") if "archive.json" in names \
            else None
    except ValueError:
        head = None
    return signature.check(secret, zf.read(signature.SIGNATURE),
                           manifest_sha256=_sha256(zf, MANIFEST), audit=head)


def _check_messages(zf: zipfile.ZipFile, names: list[str], actual: dict[str, str]) -> list[str]:
    if "messages.jsonl" not in names:
        return ["messages.jsonl is missing"]
    out = []
    for m in _jsonl(zf, "messages.jsonl"):
        file = m.get("file")
        if m.get("raw_altered") or not file:
            what = "altered in the raw store" if file else "missing from the raw store"
            out.append(f"message {m['id']} <{m['message_id']}>: was already {what} when "
                       f"archived (see archive.json problems)")
        elif file in actual and actual[file] != m["sha256"]:
            out.append(f"{file} (message {m['id']} <{m['message_id']}>): not the mail as "
                       f"received (SHA-256 {actual[file][:12]}…, recorded {m['sha256'][:12]}…)")
    return out


def _check_audit(zf: zipfile.ZipFile, names: list[str]) -> list[str]:
    if "audit.jsonl" not in names or "archive.json" not in names:
        return ["audit.jsonl or archive.json is missing"]
    head = json.loads(zf.read("archive.json"))["audit"]
    breaks = verify_chain(_jsonl(zf, "audit.jsonl"), head_seq=head["seq"],
                          head_hash=head["hash"])
    return [f"audit.jsonl: {b}" for b in breaks]
