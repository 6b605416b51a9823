"""Rules and vocabularies shipped as data with the package: the default classification rules,
the labels of the domain words (labels.toml), the notice kinds (notices.toml) and the company
examples (examples.toml: labelled messages every project's learned model starts from, generated
from the labelled sets in tests/fixtures/classify by ``python -m tests.classify.seed_examples``).

``default.toml`` uses the schema of a project's ``[classification]`` section
(:class:`gateway.config.classify.ClassificationConfig`); projects add to it in their own files.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from pydantic import ValidationError

from gateway.config.classify import ClassificationConfig
from gateway.errors import ConfigError

DEFAULT_RULES_FILE = "default.toml"
EXAMPLES_FILE = "examples.toml"


@dataclass(frozen=True)
class CompanyExample:
    """One labelled message of the company examples: its subject, the sender's own text and
    its labels by field (category, stakeholder_group, formality, urgency, receipt_required)."""

    source: str  # set#index in tests/fixtures/classify
    subject: str
    body: str
    labels: dict[str, str]


_FIELDS = ("category", "stakeholder_group", "formality", "urgency", "receipt_required")


@cache
def default_rules() -> ClassificationConfig:
    """The validated company defaults (read once per process)."""
    source = resources.files(__name__).joinpath(DEFAULT_RULES_FILE)
    where = f"gateway/rules/{DEFAULT_RULES_FILE}"
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
        return ClassificationConfig.model_validate(data)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=where) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(first["msg"], file=where, key=key) from None


@cache
def company_examples() -> tuple[CompanyExample, ...]:
    """The shipped company examples (read once per process)."""
    source = resources.files(__name__).joinpath(EXAMPLES_FILE)
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
        return tuple(CompanyExample(str(e["source"]), str(e["s"]), str(e["b"]),
                                    dict(zip(_FIELDS, str(e["l"]).split(), strict=True)))
                     for e in data["example"])
    except (tomllib.TOMLDecodeError, KeyError, ValueError) as exc:
        raise ConfigError(f"bad company examples: {exc}",
                          file=f"gateway/rules/{EXAMPLES_FILE}") from None
