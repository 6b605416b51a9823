"""Fixtures for the classification tests: the demo project and a builder of message facts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.classify.model import MessageFacts
from gateway.config.settings import ProjectConfig, load_project

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "config/projects/demo.toml"
FIXTURES = ROOT / "tests/fixtures/classify"

PM = "zhangwei@xdyj.example.com"
ENGINEER = "lina@xdyj.example.com"
DEPT_MANAGER = "wangqiang@xdyj.example.com"
CLIENT = "huang@client.example.cn"
PROJECT_ADDRESS = "proj-demo@gw.example.com"

FactsMaker = Callable[..., MessageFacts]


@pytest.fixture(scope="session")
def demo() -> ProjectConfig:
    return load_project(DEMO)


@pytest.fixture
def facts() -> FactsMaker:
    """``facts(subject, body, sender=PM, to=(ENGINEER,), …)``: the project address is in Cc."""

    def make(subject: str = "", own_text: str = "", *, sender: str = PM,
             to: tuple[str, ...] = (ENGINEER,), cc: tuple[str, ...] = (PROJECT_ADDRESS,),
             attachments: tuple[str, ...] = (), headers: dict[str, str] | None = None,
             **extra: Any) -> MessageFacts:
        return MessageFacts(subject=subject, sender=sender, to=to, cc=cc, own_text=own_text,
                            attachment_names=attachments,
                            headers={k.lower(): v for k, v in (headers or {}).items()}, **extra)

    return make
