"""Our threads against an independent implementation: Dovecot's ``THREAD REFERENCES``.

Both archives go into a throw-away Dovecot; we compare which messages end up together (not the
tree shape). Deliberate differences, each counted and explained (docs/threading.md):

* Dovecot merges root threads whose RFC 5256 base subject is equal (RFC 5256 section 4, step
  5); we never join by subject a message that has References, nor a prefix-less subject.
* We join a message without References by a reply-prefixed subject in both languages
  ("回复：", "答复:", "AW:") or by Outlook's Thread-Index; Dovecot knows neither.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.thread.evidence import Threader
from tests.support.dovecot import DovecotServer
from tests.thread.corpus import ARCHIVES, CorpusMessage, load, partition, require_archive
from tests.thread.mail import T0

_BASE_PREFIX = re.compile(r"^(?:\s*(?:re|fwd?)\s*(?:\[[^\]]*\])?\s*:|\s*\[[^\]]*\])+\s*",
                          re.IGNORECASE)


def rfc5256_base(subject: str) -> str:
    """RFC 5256 section 2.1 base subject (the part Dovecot merges roots by), simplified."""
    text = " ".join(subject.split())
    while True:
        before = text
        text = re.sub(r"\s*\(fwd\)$", "", text, flags=re.IGNORECASE)
        stripped = _BASE_PREFIX.sub("", text)
        text = stripped if stripped else text
        if text.lower().startswith("[fwd:") and text.endswith("]"):
            text = text[5:-1].strip()
        if text == before:
            return text.lower()


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotServer]:
    for archive in ARCHIVES:
        require_archive(archive)
    server = DovecotServer(tmp_path_factory.mktemp("imap")).start()
    for archive in ARCHIVES:
        for m in load(archive):
            newline = b"\r\n" if b"\r\n" in m.raw[:2000] else b"\n"
            server.deliver(archive, b"X-Corpus-File: " + m.file.encode() + newline + m.raw)
    yield server
    server.close()


def flatten(node: Any) -> Iterator[int]:
    if isinstance(node, int):
        yield node
    else:
        for child in node:
            yield from flatten(child)


def dovecot_groups(server: DovecotServer, archive: str,
                   by_file: dict[str, CorpusMessage]) -> list[frozenset[str]]:
    """Dovecot's threads as sets of our Message-IDs (a duplicated id unites its threads)."""
    with server.connect() as imap:
        imap.select_folder(archive, readonly=True)
        files = {uid: re.search(rb"X-Corpus-File:\s*(\S+)", data[b"BODY[HEADER]"])
                 for uid, data in imap.fetch(imap.search("ALL"), ["BODY.PEEK[HEADER]"]).items()}
        threads = imap.thread(algorithm="REFERENCES", criteria="ALL", charset="UTF-8")
    assert all(files.values()) and len(files) == len(by_file)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x] = parent[parent[x]]
        return x

    for thread in threads:
        ids = [by_file[files[uid].group(1).decode()].evidence.message_id  # type: ignore[union-attr]
               for uid in flatten(thread)]
        for mid in ids:
            parent[find(mid)] = find(ids[0])
    groups: dict[str, set[str]] = {}
    for mid in parent:
        groups.setdefault(find(mid), set()).add(mid)
    return partition(groups.values())


@pytest.mark.slow
@pytest.mark.parametrize("archive", ARCHIVES)
def test_grouping_matches_dovecot_thread_references(dovecot: DovecotServer, archive: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    mail = load(archive)
    by_file = {m.file: m for m in mail}
    subject = {m.evidence.message_id: rfc5256_base(m.evidence.subject) for m in mail}
    threader, soft = Threader(), set()
    for m in mail:
        if threader.add(m.evidence, now=m.evidence.date or T0).via in ("subject", "thread-index"):
            soft.add(m.evidence.message_id)
    ours = partition(threader.groups().values())
    theirs = dovecot_groups(dovecot, archive, by_file)
    ours_at = {mid: g for g in ours for mid in g}
    theirs_at = {mid: g for g in theirs for mid in g}
    same = [g for g in ours if theirs_at[next(iter(g))] == g]
    # Dovecot joined several of our threads: only ever by equal base subject
    dovecot_subject_merges, unexplained = 0, []
    for group in theirs:
        parts = {ours_at[mid] for mid in group} - {g for g in ours if g & soft}
        if len(parts) > 1:
            dovecot_subject_merges += 1
            subjects = [{subject[mid] for mid in part} for part in parts]
            if not set.intersection(*subjects) and not any(g & soft for g in parts):
                unexplained.append(sorted(group)[:4])
    # We joined several Dovecot threads: only ever through a soft-evidence message
    our_soft_merges = 0
    for group in ours:
        if len({theirs_at[mid] for mid in group}) > 1:
            our_soft_merges += 1
            if not group & soft:
                unexplained.append(sorted(group)[:4])
    with capsys.disabled():
        print(f"\n{archive}: {len(mail)} messages; ours {len(ours)} threads, Dovecot "
              f"{len(theirs)}; identical {len(same)}; Dovecot subject merges "
              f"{dovecot_subject_merges}; our soft-evidence merges {our_soft_merges}")
    assert not unexplained, unexplained
