"""Where the gateway finds the files that ship beside the package: the jinja2 templates.

From a clone (``pip install -e .``) they are the repository's ``templates/``. An installed
package (a wheel, the Docker image) is told where they are with ``COMMGATE_TEMPLATES``.
"""

from __future__ import annotations

from pathlib import Path

from gateway.config.env import templates_path
from gateway.errors import ConfigError

_REPO_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def templates_dir() -> Path:
    configured = templates_path()
    root = Path(configured) if configured else _REPO_TEMPLATES
    if not root.is_dir():
        raise ConfigError(f"templates folder not found: {root}", key="COMMGATE_TEMPLATES",
                          hint="set COMMGATE_TEMPLATES to the templates/ folder of the release")
    return root
