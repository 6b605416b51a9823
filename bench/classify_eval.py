"""Evaluate the classification rules on the labelled set: per-field accuracy and confusions.

Usage::

    python3 bench/classify_eval.py [--fixtures tests/fixtures/classify]
                                   [--project config/projects/demo.toml] [--misses]

Each ``.eml`` in the fixtures folder is read through the parse stage (when installed) and
classified for the project; ``labels.json`` holds the expected value of every field. Prints the
accuracy of each field, the most frequent confusions (expected → got), and with ``--misses``
every wrong field with the reasons the classifier gave.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.classify.message import classify, facts_from_bytes
from gateway.classify.model import Classification
from gateway.config.settings import ProjectConfig, load_project

FIELDS = ("category", "stakeholder_group", "formality", "urgency", "receipt_required")
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Outcome:
    name: str
    expected: dict[str, object]
    got: Classification

    def wrong(self) -> list[str]:
        return [f for f in FIELDS if getattr(self.got, f) != self.expected[f]]


def evaluate(fixtures: Path, project: ProjectConfig) -> list[Outcome]:
    labels: dict[str, dict[str, object]] = json.loads(
        (fixtures / "labels.json").read_text(encoding="utf-8"))
    return [Outcome(name, expected, classify(facts_from_bytes((fixtures / name).read_bytes()),
                                             project))
            for name, expected in sorted(labels.items())]


def accuracy(outcomes: list[Outcome]) -> dict[str, float]:
    total = len(outcomes) or 1
    return {f: sum(f not in o.wrong() for o in outcomes) / total for f in FIELDS}


def _report(outcomes: list[Outcome], show_misses: bool) -> None:
    print(f"{len(outcomes)} labelled messages")
    for field, value in accuracy(outcomes).items():
        print(f"  {field:<18} {value:7.1%}")
    confusions = Counter((f, str(o.expected[f]), str(getattr(o.got, f)))
                         for o in outcomes for f in o.wrong())
    print("confusions (field: expected → got × count):")
    for (field, expected, got), count in confusions.most_common() or []:
        print(f"  {field}: {expected} → {got} × {count}")
    if not confusions:
        print("  none")
    if show_misses:
        for outcome in outcomes:
            for field in outcome.wrong():
                rules = "; ".join(f"{r.rule} {'/'.join(r.evidence)}"
                                  for r in outcome.got.reasons_for(field))
                print(f"  {outcome.name} {field}: expected {outcome.expected[field]}, "
                      f"got {getattr(outcome.got, field)} ({rules})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=ROOT / "tests/fixtures/classify")
    parser.add_argument("--project", type=Path, default=ROOT / "config/projects/demo.toml")
    parser.add_argument("--misses", action="store_true", help="list every wrong field")
    args = parser.parse_args(argv)
    _report(evaluate(args.fixtures, load_project(args.project)), args.misses)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
