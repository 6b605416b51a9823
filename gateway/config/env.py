"""The process environment, read in one place: the named ``COMMGATE_*`` variables and the secrets
the configuration names by variable.

Settings read the environment once at start-up (gateway/config/settings.py: every gateway key
can be overridden by ``COMMGATE_<KEY>``, the secret key comes only from it). A few values are
not settings but still come from the environment, and are read here by name:

- ``COMMGATE_CONFIG``: the gateway file, when ``--config`` is not given;
- ``COMMGATE_TEMPLATES``: the templates folder of an installed release (gateway/config/paths.py);
- secrets whose *variable name* a config file gives — the relay password
  (``[outbound] password_env``), an IMAP password (``[imap] password_env``), a connector's URL
  with its token (``url_env``). They are read when used, never stored in the settings, never
  logged.

Functions that take an ``environ`` mapping (for tests) default to :func:`environment`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

PREFIX = "COMMGATE_"
CONFIG = PREFIX + "CONFIG"
TEMPLATES = PREFIX + "TEMPLATES"


def environment() -> Mapping[str, str]:
    """The live process environment (read-only by contract: nothing here writes to it)."""
    return os.environ


def config_path(environ: Mapping[str, str] | None = None) -> str:
    """``$COMMGATE_CONFIG``, or "" when unset."""
    return (environment() if environ is None else environ).get(CONFIG, "")


def templates_path() -> str:
    """``$COMMGATE_TEMPLATES``, or "" when unset (then the repository's ``templates/``)."""
    return environment().get(TEMPLATES, "")


def secret(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The secret in the variable ``name`` (a ``*_env`` key of a config file), or ""."""
    return (environment() if environ is None else environ).get(name, "") if name else ""


def without_gateway_variables() -> dict[str, str]:
    """A copy of the environment with no ``COMMGATE_*`` variable (``commgate demo`` must not
    pick up a production database, broker, relay or secret)."""
    return {k: v for k, v in environment().items() if not k.startswith(PREFIX)}
