"""Nothing in a message may raise anything but Quarantine: random bytes, mutations, corpora."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import Quarantine
from gateway.parse import parse_message, to_json

from .conftest import FIXTURES

SEEDS = [path.read_bytes() for path in sorted(FIXTURES.glob("*.eml"))]
_SKIP_SUFFIXES = {".json", ".jsonl", ".md", ".html", ".bin", ".py", ".gitignore"}


def parses_or_quarantines(raw: bytes) -> None:
    try:
        to_json(parse_message(raw))
    except Quarantine as error:
        assert str(error), "a quarantine must carry a reason"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_random_bytes(raw: bytes) -> None:
    parses_or_quarantines(raw)


@st.composite
def mutated_fixture(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 12))):
        where = draw(st.integers(0, max(len(data) - 1, 0)))
        action = draw(st.sampled_from(["flip", "cut", "dup", "insert"]))
        if action == "flip" and data:
            data[where] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[where:where + draw(st.integers(1, 200))]
        elif action == "dup":
            data[where:where] = data[where:where + draw(st.integers(1, 400))]
        else:
            data[where:where] = draw(st.sampled_from(
                [b"\r\n--", b"=?gb2312?B?", b"?=", b"boundary=", b"\r\n\r\n", b"\xff\xfe",
                 b"Content-Type: multipart/mixed; boundary=x\r\n", b"<", b">", b"\x00"]))
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_fixture())
def test_mutated_fixtures(raw: bytes) -> None:
    parses_or_quarantines(raw)


def _corpus_files(root: Path) -> list[Path]:
    """Every mail-like file: *.eml, *.txt, *.msg and extension-less files in mail folders."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower()
                  not in _SKIP_SUFFIXES and not p.name.startswith("."))


def test_every_corpus_file_parses_or_is_quarantined_with_a_reason(corpora: Path) -> None:
    files = _corpus_files(corpora)
    assert len(files) > 3000
    quarantined: dict[str, str] = {}
    for path in files:
        try:
            to_json(parse_message(path.read_bytes()))
        except Quarantine as error:
            quarantined[str(path.relative_to(corpora))] = str(error)
    print(f"\n{len(files)} corpus files, {len(quarantined)} quarantined: {quarantined}")
    assert all(quarantined.values())
    assert len(quarantined) < 10
