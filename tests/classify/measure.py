"""Per-field accuracy of a labelled set, by the rules alone and with the shipped company
examples (what the pipeline does for a project with no corrections), and the cost per message.

Usage::

    python -m tests.classify.measure [purpose heldout2 … heldout6 | heldout7]

Set 7 is the unseen set: the company examples leave it out; measure it once per change.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

from gateway.classify.message import classify, facts_from_bytes
from gateway.classify.model import Classification, MessageFacts
from gateway.classify.seeds import company_model, company_receipt_model
from gateway.config.settings import load_project
from tests.classify.conftest import DEMO, FIXTURES
from tests.classify.purpose_set import FIELDS, Labelled, load


@dataclass(frozen=True)
class Row:
    label: str
    untagged: float
    fields: dict[str, float]
    ms: float

    def line(self) -> str:
        cells = " · ".join(f"{self.fields[f] * 100:.1f}" for f in FIELDS)
        return (f"{self.label:<34} untagged category {self.untagged * 100:5.1f} | "
                f"{cells} (category group formality urgency receipt) | {self.ms:.2f} ms/msg")


def _row(label: str, items: tuple[Labelled, ...], got: list[Classification], ms: float) -> Row:
    def share(pairs: list[tuple[Labelled, Classification]], field: str) -> float:
        return sum(getattr(g, field) == i.expected[field] for i, g in pairs) / (len(pairs) or 1)

    pairs = list(zip(items, got, strict=True))
    return Row(label, share([p for p in pairs if not p[0].tagged], "category"),
               {f: share(pairs, f) for f in FIELDS}, ms)


def measure(name: str) -> tuple[Row, Row]:
    project = load_project(DEMO)
    items = load(FIXTURES / name)
    facts: list[MessageFacts] = [facts_from_bytes(i.raw) for i in items]
    model = company_model()  # trained before the clock starts: once per process
    company_receipt_model()
    classify(facts[0], project)  # the rules compiled, once per process
    rows = []
    for label, given in (("rules", None), ("rules + company examples", model)):
        runs = []
        for _ in range(3):  # the best of three: the machine is shared
            start = time.perf_counter()
            got = [classify(f, project, model=given) for f in facts]
            runs.append((time.perf_counter() - start) * 1000 / len(facts))
        rows.append(_row(f"{name} {label}", items, got, min(runs)))
    return rows[0], rows[1]


def main(names: list[str]) -> None:
    for name in names or ["purpose", "heldout2", "heldout3", "heldout4", "heldout5", "heldout6"]:
        for row in measure(name):
            print(row.line())


if __name__ == "__main__":
    main(sys.argv[1:])
