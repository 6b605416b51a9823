"""Shared fixtures: our own .eml files, and the shared corpora when they are present."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.parse import ParsedMessage, parse_message

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"


def corpora_root() -> Path:
    """``$COMMGATE_CORPORA`` or ``../shared/corpora`` beside the repository."""
    env = os.environ.get("COMMGATE_CORPORA")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "corpora"


@pytest.fixture
def corpora() -> Path:
    root = corpora_root()
    if not root.is_dir():
        pytest.skip(f"shared corpora not present at {root} (set COMMGATE_CORPORA)")
    return root


@pytest.fixture
def mail() -> Callable[[str], ParsedMessage]:
    """Parse one of our fixture files by name."""
    def load(name: str) -> ParsedMessage:
        return parse_message((FIXTURES / name).read_bytes())
    return load
