"""Scoring the parse stage against the shared corpora's oracles (a developer tool, not pipeline).

* reply splitting — talon ``expected.json`` (plain replies, HTML replies, signatures, other) and
  discourse-receiver ``expected.json`` (reply text, bounce and auto-generated flags);
* bounces — flufl.bounce ``expected_bounces.json`` (addresses and temporary/permanent);
* own text — our own multilingual set of replies in each client's real format
  (``tests/fixtures/replies/expected.json``), scored exactly: the own text must equal the
  expected one line for line (surrounding spaces and blank lines aside).

Comparisons ignore whitespace, and Discourse's Markdown emphasis (``**bold**``), which is its
rendering, not the sender's text. Used by ``bench/parse.py --reply-eval/--bounce-eval`` and tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gateway.errors import Quarantine
from gateway.parse.message import parse_message
from gateway.parse.model import ParsedMessage
from gateway.parse.reply import split_reply


@dataclass
class Score:
    """Passed/total per group, with the failing cases named."""

    groups: dict[str, list[int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def add(self, group: str, name: str, ok: bool) -> None:
        tally = self.groups.setdefault(group, [0, 0])
        tally[0] += int(ok)
        tally[1] += 1
        if not ok:
            self.failures.append(f"{group}: {name}")

    @property
    def passed(self) -> int:
        return sum(p for p, _ in self.groups.values())

    @property
    def total(self) -> int:
        return sum(t for _, t in self.groups.values())

    def lines(self) -> list[str]:
        rows = [f"{g:<28} {p:>3}/{t:<3}" for g, (p, t) in self.groups.items()]
        return rows + [f"{'TOTAL':<28} {self.passed:>3}/{self.total:<3}"]


def lines_of(text: str) -> list[str]:
    """The non-blank lines of ``text``, stripped: "exact" own text, layout aside."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def score_reply_fixtures(folder: Path, score: Score, *, group: str = "own text exact") -> None:
    """Exact own-text extraction over ``folder``'s ``expected.json`` (name → own_text)."""
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    for name, spec in sorted(expected.items()):
        parsed = _parse(folder / name)
        got = parsed.own_text if parsed is not None else ""
        score.add(group, name, lines_of(got) == lines_of(spec["own_text"]))


def squash(text: str) -> str:
    """Text without whitespace or Markdown emphasis, for forgiving comparison."""
    return re.sub(r"\s+|\*", "", text)


def _parse(path: Path) -> ParsedMessage | None:
    try:
        return parse_message(path.read_bytes())
    except Quarantine:
        return None


def _above_quote(parsed: ParsedMessage | None) -> str:
    if parsed is None:
        return ""
    return f"{parsed.own_text}\n{parsed.signature}"


def score_talon(root: Path, score: Score) -> None:
    fixtures = root / "talon" / "tests" / "fixtures"
    expected = json.loads((root / "talon" / "expected.json").read_text())
    for name, reply in expected["standard_replies"].items():
        got = _above_quote(_parse(fixtures / name))
        score.add("talon standard_replies", name, squash(got) == squash(reply))
    for name, spec in expected["html_replies"].items():
        parts = split_reply("", (fixtures / name).read_text(errors="replace"))
        got = squash(parts.own_text + parts.signature)
        score.add("talon html_replies", name, got == spec["expected_text_whitespace_removed"])
    _talon_other(fixtures, score)
    _talon_signatures(fixtures / "signature" / "emails" / "stripped", score)


def _talon_other(fixtures: Path, score: Score) -> None:
    olk = split_reply("", (fixtures / "OLK_SRC_BODY_SECTION.html").read_text())
    score.add("talon other", "OLK_SRC_BODY_SECTION.html", squash(olk.own_text) == "Reply")
    hr_split = split_reply("", (fixtures / "reply-separated-by-hr.html").read_text())
    score.add("talon other", "reply-separated-by-hr.html", squash(hr_split.own_text) == "Hithere")
    shared = _parse(fixtures / "reply-quotations-share-block.eml")
    own = shared.own_text if shared else ""
    score.add("talon other", "reply-quotations-share-block.eml", bool(own) and "From" not in own)


def _talon_signatures(folder: Path, score: Score) -> None:
    for body in sorted(folder.glob("*_body")):
        stem = body.name[: -len("_body")]
        sender = (folder / f"{stem}_sender").read_text(errors="replace").strip()
        signature_file = folder / f"{stem}_signature"
        want = signature_file.read_text(errors="replace") if signature_file.exists() else ""
        got = split_reply(body.read_text(errors="replace"), sender_name=_display_name(sender))
        score.add("talon signature", stem, squash(got.signature) == squash(want))


def _display_name(sender: str) -> str:
    return sender.split("<", 1)[0].strip().strip('"') if "<" in sender else sender


def score_discourse(root: Path, score: Score) -> None:
    folder = root / "discourse-receiver"
    expected = json.loads((folder / "expected.json").read_text())
    for name, spec in expected.items():
        parsed = _parse(folder / "spec" / "fixtures" / "emails" / name)
        checks: list[tuple[str, Callable[[ParsedMessage], bool]]] = []
        reply = spec.get("expected_reply") or spec.get("expected_reply_prefer_text")
        if reply:
            checks.append(("reply", _same_reply(reply)))
        if spec.get("expected_is_bounce"):
            checks.append(("bounce", lambda p: p.bounce is not None))
        if "expected_bounced_recipient" in spec:
            checks.append(("recipient", _bounced(spec["expected_bounced_recipient"])))
        if spec.get("expected_auto_generated"):
            checks.append(("auto", lambda p: p.auto_reply))
        for label, check in checks:
            score.add(f"discourse {label}", name, parsed is not None and check(parsed))


def _same_reply(reply: str) -> Callable[[ParsedMessage], bool]:
    return lambda parsed: squash(parsed.own_text) == squash(reply)


def _bounced(address: str) -> Callable[[ParsedMessage], bool]:
    return lambda parsed: parsed.bounce is not None and address in parsed.bounce.failed_recipients


def score_bounces(root: Path, score: Score) -> None:
    """flufl.bounce: detected, exact address set, and temporary/permanent right."""
    folder = root / "flufl.bounce"
    for case in json.loads((folder / "expected_bounces.json").read_text()):
        parsed = _parse(folder / case["file"])
        want = {a.lower() for a in case["expected_addresses"]}
        bounce = parsed.bounce if parsed else None
        got = {a.lower() for a in bounce.failed_recipients} if bounce else set()
        name = Path(case["file"]).name
        if not want:
            score.add("no address expected", name, not got)
            continue
        score.add("detected", name, bounce is not None)
        score.add("addresses exact", name, got == want)
        score.add("addresses found (superset)", name, want <= got)
        score.add("temporary/permanent", name,
                  bounce is not None and bounce.permanent == (not case["temporary_failure"]))
