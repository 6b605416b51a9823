"""Rules and vocabularies shipped as data with the package: the default classification rules,
the labels of the domain words (labels.toml) and the notice kinds (notices.toml).

``default.toml`` uses the schema of a project's ``[classification]`` section
(:class:`gateway.config.classify.ClassificationConfig`); projects add to it in their own files.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

from pydantic import ValidationError

from gateway.config.classify import ClassificationConfig
from gateway.errors import ConfigError

DEFAULT_RULES_FILE = "default.toml"


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
