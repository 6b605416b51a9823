"""Every third-party import of the tree is declared in ``pyproject.toml``.

A package that happens to be installed on the machine hides a missing declaration until a
newcomer's fresh virtual environment stops at collection. This walks the imports of
``gateway/`` (runtime dependencies), ``tests/`` (plus the ``test`` extra) and ``bench/`` (plus
the ``bench`` extra, if any) with :mod:`ast`, maps each top-level module to the distributions
that provide it with :func:`importlib.metadata.packages_distributions`, and fails for a module
that no declared distribution provides.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
OWN = {"gateway", "tests", "bench"}
# Which declarations each part of the tree may rely on.
PARTS = {"gateway": ("runtime",), "tests": ("runtime", "test"),
         "bench": ("runtime", "test", "bench")}


def declared() -> dict[str, set[str]]:
    """Canonical distribution names per group: ``runtime`` and each optional extra."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    groups = {"runtime": project.get("dependencies", [])}
    groups.update(project.get("optional-dependencies", {}))
    return {group: {canonicalize_name(Requirement(line).name) for line in lines}
            for group, lines in groups.items()}


def third_party_imports(path: Path) -> set[str]:
    """Top-level names of the absolute imports in one file that are neither stdlib nor ours."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return {name for name in names if name not in sys.stdlib_module_names and name not in OWN}


def undeclared(part: str) -> list[str]:
    groups = declared()
    allowed = set().union(*(groups.get(group, set()) for group in PARTS[part]))
    providers = packages_distributions()
    problems = []
    for path in sorted((REPO / part).rglob("*.py")):
        for module in sorted(third_party_imports(path)):
            dists = {canonicalize_name(name) for name in providers.get(module, [])}
            if not dists:
                problems.append(f"{path.relative_to(REPO)}: {module} is not installed at all")
            elif not dists & allowed:
                problems.append(f"{path.relative_to(REPO)}: {module} comes from "
                                f"{', '.join(sorted(dists))}, not declared for {part}/ "
                                f"(groups: {', '.join(PARTS[part])})")
    return problems


@pytest.mark.parametrize("part", sorted(PARTS))
def test_every_third_party_import_is_declared(part: str) -> None:
    assert undeclared(part) == []


def test_the_check_sees_an_undeclared_import(tmp_path: Path) -> None:
    """The walk itself finds imports anywhere in a file, including function-level ones."""
    source = tmp_path / "probe.py"
    source.write_text("import os\nfrom gateway import app\n"
                      "def late():\n    import somewhere_else.deep\n    from . import x\n",
                      encoding="utf-8")
    assert third_party_imports(source) == {"somewhere_else"}


def test_runtime_dependencies_have_an_upper_bound() -> None:
    """Each runtime dependency is pinned below its next major version (a new major changes
    APIs: dramatiq 2.x did), and constraints.txt pins the exact versions that were tested."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    unbounded = [line for line in project["dependencies"]
                 if not any(spec.operator in ("<", "<=", "==", "~=")
                            for spec in Requirement(line).specifier)]
    assert unbounded == []
    pinned = {canonicalize_name(Requirement(line).name)
              for line in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines()
              if line.strip() and not line.startswith("#")}
    assert declared()["runtime"] <= pinned
