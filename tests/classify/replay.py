"""How the learned model and the rules combine, judged on mail the rules had not seen.

Usage (a few minutes; it needs the git history)::

    python -m tests.classify.replay

Today's rules are fitted to held-out sets 2–6, so they cannot show what the model adds on
unseen mail. Each set is replayed with the rules of the commit that added it (its first
measurement: the rules had not seen it), run from ``git archive`` of that commit in a
subprocess, and the company model trained on the company examples less that set (leave one set
out) is consulted with the gate of gateway/classify/learn.py under several settings. Printed:
untagged category, all category and receipt over the sets together. Set 7 is never used.
"""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FIRST_MEASURED = {"heldout2": "b0d4bcf", "heldout3": "95eea84", "heldout4": "8db9055",
                  "heldout5": "3887835", "heldout6": "a5956c9"}
ORDER = ("directive", "decision", "change_notice", "risk", "incident", "meeting_minutes",
         "report", "work_contact", "inquiry", "general")
# (low_score, confidence, tie_margin, rule margin): the defaults first
GATES = ((3.0, 0.6, 1.0, 0.0), (3.0, 0.6, 1.0, 3.0), (3.0, 0.4, 1.0, 3.0), (2.0, 0.4, 0.0, 2.0),
         (2.0, 0.3, 0.0, 2.0), (3.0, 0.7, 1.0, 0.0), (3.0, 0.8, 1.0, 0.0))


def _old_rules(name: str, raw: Path, out: Path) -> None:
    """In the subprocess, on the old code: the rules' view of every message of ``name``."""
    from gateway.classify.decide import (  # the old gateway, first on sys.path
        category_from_header,
        category_scores,
        decide_receipt,
        is_reply,
        subject_markers,
    )
    from gateway.classify.group import party_groups
    from gateway.classify.message import _own_words, classify, facts_from_bytes
    from gateway.classify.rules import rules_for
    from gateway.config.settings import load_project

    project = load_project(Path("config/projects/demo.toml"))
    rules = rules_for(project.classification)
    rows = []
    for message, expected, tagged in pickle.loads(raw.read_bytes())[name]:
        facts = facts_from_bytes(message)
        markers = subject_markers(facts.subject, rules)
        own, _ = _own_words(facts)
        scores, _ = category_scores(own, party_groups(facts, project), rules)
        rows.append({"category": classify(facts, project).category, "scores": dict(scores),
                     # the model is not asked for a header, a marker or a reply
                     "decided": bool(markers) or is_reply(facts.subject)
                                or category_from_header(facts, rules) is not None,
                     "receipt": {c: decide_receipt(own, c, markers, rules)[0] for c in ORDER},
                     "expected": expected, "tagged": tagged})
    out.write_bytes(pickle.dumps(rows))


def _decide(row: dict[str, Any], gate: tuple[float, float, float, float] | None) -> str:
    category: str = row["category"]
    if gate is None or row["decided"]:
        return category
    low, confidence, tie, margin = gate
    scores, said = row["scores"], row["said"]
    ranked = sorted(scores.values(), reverse=True) or [0.0]
    best, second = ranked[0], (ranked[1] if len(ranked) > 1 else 0.0)
    if best >= 2.0 and tie > 0:
        tied = sorted((c for c, s in scores.items() if best - s < tie), key=ORDER.index)
        if len(tied) > 1:
            return max(tied, key=lambda c: (said.get(c, 0.0), -ORDER.index(c)))
    label = max(said, key=lambda c: (said[c], -ORDER.index(c)))
    unsure = best < max(low, 2.0) or best - second < margin
    return label if unsure and label != category and said[label] >= confidence else category


def main() -> None:
    from gateway.classify.learn import NaiveBayes
    from gateway.classify.message import _own_words, facts_from_bytes
    from gateway.classify.seeds import example_facts
    from gateway.rules import company_examples
    from tests.classify.purpose_set import FIXTURES, load

    work = Path(tempfile.mkdtemp(prefix="replay-"))
    raw = work / "raw.pkl"
    raw.write_bytes(pickle.dumps({n: [(i.raw, i.expected, i.tagged) for i in load(FIXTURES / n)]
                                  for n in FIRST_MEASURED}))
    rows: list[dict[str, Any]] = []
    for name, commit in FIRST_MEASURED.items():
        old = work / commit
        old.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "gateway", "config"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        out = work / f"{name}.pkl"
        subprocess.run([sys.executable, "-c", "import sys; sys.path[:0] = sys.argv[1:3]; "
                        "from tests.classify.replay import _old_rules; from pathlib import Path; "
                        "_old_rules(sys.argv[3], Path(sys.argv[4]), Path(sys.argv[5]))",
                        str(old), str(ROOT), name, str(raw), str(out)], cwd=old, check=True)
        model = NaiveBayes()
        for example in company_examples():
            if not example.source.startswith(f"{name}#"):
                model.add(example_facts(example), example.labels["category"])
        for row, (message, _, _) in zip(pickle.loads(out.read_bytes()),
                                        pickle.loads(raw.read_bytes())[name], strict=True):
            row["said"] = model.probabilities(_own_words(facts_from_bytes(message))[0]) or {}
            rows.append(row)
    shutil.rmtree(work)
    untagged = [r for r in rows if not r["tagged"]]
    for gate in (None, *GATES):
        def share(some: list[dict[str, Any]], receipt: bool = False) -> float:
            def right(r: dict[str, Any]) -> bool:
                got = _decide(r, gate)  # noqa: B023 - used at once, in this loop
                if receipt:
                    return bool(r["receipt"][got] == r["expected"]["receipt_required"])
                return got == r["expected"]["category"]
            return 100 * sum(map(right, some)) / len(some)
        print(f"{'rules alone' if gate is None else gate!s:<24} untagged {share(untagged):.1f} "
              f"all {share(rows):.1f} receipt {share(rows, receipt=True):.1f} ({len(rows)})")


if __name__ == "__main__":
    main()
