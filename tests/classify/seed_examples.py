"""The company examples shipped with the package (gateway/rules/examples.toml), built from our
own labelled sets: the purpose set and held-out sets 2–6. Held-out set 7 stays out: it is the
unseen set the shipped defaults are measured on.

The fixtures are the one source of truth; the shipped file is generated from them and
``tests/classify/test_company_examples.py`` fails when the two drift apart. Regenerate with::

    python -m tests.classify.seed_examples
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from gateway.rules import EXAMPLES_FILE
from tests.classify.purpose_set import FOLDER, HELD_OUT

SHIPPED = Path(__file__).resolve().parents[2] / "gateway/rules" / EXAMPLES_FILE
SOURCES = (FOLDER, *HELD_OUT)  # never heldout7
HEADER = """\
# Company examples (issue #22): labelled messages every project's learned model starts from.
# GENERATED from tests/fixtures/classify/{purpose,heldout2..6}/messages.toml by
# `python -m tests.classify.seed_examples`; edit the fixtures, not this file.
# Fields: source (set#index), s subject, b the sender's own text,
# l labels: category group formality urgency receipt_required.
"""


def from_fixtures() -> list[dict[str, str]]:
    """The examples as the fixtures give them, in set order."""
    out: list[dict[str, str]] = []
    for folder in SOURCES:
        data = tomllib.loads((folder / "messages.toml").read_text(encoding="utf-8"))
        out.extend({"source": f"{folder.name}#{i}", "s": e["s"], "b": e["b"], "l": e["l"]}
                   for i, e in enumerate(data["m"]))
    return out


def render(examples: list[dict[str, str]]) -> str:
    def value(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string

    blocks = ["[[example]]\n" + "".join(f"{key} = {value(e[key])}\n"
                                        for key in ("source", "s", "b", "l"))
              for e in examples]
    return HEADER + "\n" + "\n".join(blocks)


def main() -> None:
    SHIPPED.write_text(render(from_fixtures()), encoding="utf-8")
    print(f"{SHIPPED}: {len(from_fixtures())} examples")


if __name__ == "__main__":
    main()
