#!/usr/bin/env python3
"""Issue #18, step one: move ``gateway/``'s prefix-named modules into one package per stage.

Usage::

    python tools/restructure.py <tree-root>            # on a clean git tree (no changes)
    python tools/restructure.py <tree-root> --dry-run  # print the plan, change nothing

Standard library only (``ast`` + ``tokenize``); no libcst, no venv needed to run it. It:

1. ``git mv``-s every module in :data:`MOVES` (old dotted name -> new dotted name; a new name
   ending in ``.__init__`` becomes that package's ``__init__.py``) and creates each new package's
   ``__init__.py`` (a docstring only: nothing is re-exported, imports are rewritten instead).
   Modules that appeared after this table was written but follow a known prefix
   (``classify_*``, ``receipts_*``, ``escalation_*``, ``audit_*``, ``demo_*``, ``*_command``,
   ``*_config``) are added automatically and listed in the summary.
2. Rewrites every reference, working from names (never line numbers): ``import gateway.x``,
   ``from gateway.x import y``, ``from gateway import x`` (-> ``from gateway.pkg import mod as
   x`` so the local name stays), relative imports, dotted names in code (``gateway.x.f``),
   dotted names and ``gateway/x.py`` paths in strings, comments and docstrings (mock targets,
   logger names, ``python -m``), and in docs/*.md, README.md, pyproject.toml (entry points),
   config/*.toml, docker/, alembic files and .ci/run.
3. Adjusts ``Path(__file__).parents[N]`` in moved modules to their new depth and reports every
   other ``__file__`` / ``__package__`` use in a moved module for a look by hand.
4. Adds import-linter (test extra + constraints.txt pin), the ``[tool.importlinter]`` contracts
   (:data:`IMPORTLINTER`) and a ``lint-imports`` step after ``mypy`` in ``.ci/run``.
5. Prints what moved and what it could not fix automatically.

It does not commit: review ``git diff --stat -M``, run the checks, then commit.
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import subprocess
import sys
import tokenize
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

# --------------------------------------------------------------------------------------------
# The table. Old dotted name -> new dotted name. ".__init__" = the package's __init__.py.
# --------------------------------------------------------------------------------------------
MOVES: dict[str, str] = {
    # classify/: the stage's pure logic; its rules-as-data live in config/
    "gateway.classify": "gateway.classify.message",          # 84 lines, but siblings' package
    "gateway.classify_decide": "gateway.classify.decide",
    "gateway.classify_facts": "gateway.classify.facts",
    "gateway.classify_findings": "gateway.classify.findings",
    "gateway.classify_group": "gateway.classify.group",
    "gateway.classify_model": "gateway.classify.model",
    "gateway.classify_rules": "gateway.classify.rules",
    "gateway.classify_text": "gateway.classify.text",        # what the rules read
    "gateway.classify_learn": "gateway.classify.learn",      # the learned model (pure)
    # receipts/: owing, intent, auth, tokens, states, answers, events, query (issue's layout)
    "gateway.receipts": "gateway.receipts.owing",
    "gateway.receipts_answers": "gateway.receipts.answers",
    "gateway.receipts_events": "gateway.receipts.events",
    "gateway.receipts_manual": "gateway.receipts.manual",
    "gateway.receipts_moves": "gateway.receipts.moves",
    "gateway.receipts_query": "gateway.receipts.query",
    "gateway.receipt_states": "gateway.receipts.states",
    "gateway.intent": "gateway.receipts.intent",
    "gateway.authcheck": "gateway.receipts.auth",
    "gateway.tokens": "gateway.receipts.tokens",
    "gateway.directive_deadline": "gateway.receipts.deadline",
    # escalation/: plan, businesstime, mail (businesstime is used by escalation only)
    "gateway.escalation": "gateway.escalation.plan",
    "gateway.escalation_mail": "gateway.escalation.mail",
    "gateway.businesstime": "gateway.escalation.businesstime",
    "gateway.escalation_digest": "gateway.escalation.digest",  # one mail per person per pass
    # audit/: chain, verify, anchor, replay, state, labels
    "gateway.audit": "gateway.audit.chain",
    "gateway.audit_anchor": "gateway.audit.anchor",
    "gateway.audit_labels": "gateway.audit.labels",
    "gateway.audit_replay": "gateway.audit.replay",
    "gateway.audit_state": "gateway.audit.state",
    "gateway.audit_verify": "gateway.audit.verify",
    # demo/: cast, story, view (the ``commgate demo`` command itself goes to cli/)
    "gateway.demo_mail": "gateway.demo.cast",
    "gateway.demo_story": "gateway.demo.story",
    "gateway.demo_view": "gateway.demo.view",
    # runtime/: what ``commgate serve`` is made of
    "gateway.server": "gateway.runtime.server",
    "gateway.ops": "gateway.runtime.ops",
    "gateway.reload": "gateway.runtime.reload",
    "gateway.shutdown": "gateway.runtime.shutdown",
    "gateway.logs": "gateway.runtime.logs",
    "gateway.metrics": "gateway.runtime.metrics",
    "gateway.ops_probe": "gateway.runtime.probe",            # /healthz's write probe (ops only)
    # pipeline/ (the issue: __init__ holds STAGES, process, replay) and stages/ (one module for
    # now; splitting it per stage is hand work)
    "gateway.pipeline": "gateway.pipeline.__init__",
    "gateway.stages": "gateway.stages.adapters",
    # jobs/: actors + broker + recovery sweep, and the periodic scheduler (split later)
    "gateway.jobs": "gateway.jobs.actors",
    "gateway.scheduler": "gateway.jobs.scheduler",
    # cli/: one module per command group
    "gateway.cli": "gateway.cli.main",
    "gateway.cli_help": "gateway.cli.help",                  # --help / usage-error wording
    "gateway.demo": "gateway.cli.demo",
    "gateway.ingest": "gateway.cli.ingest",
    "gateway.messages": "gateway.cli.messages",
    "gateway.plan_command": "gateway.cli.plan",
    "gateway.classify_command": "gateway.cli.classify",
    "gateway.receipts_command": "gateway.cli.receipts",
    "gateway.receipts_manual_command": "gateway.cli.receipts_manual",
    "gateway.audit_command": "gateway.cli.audit",
    "gateway.records.command": "gateway.cli.records",
    "gateway.records.threads_command": "gateway.cli.threads",
    "gateway.parse.command": "gateway.cli.parse",
    "gateway.notify.command": "gateway.cli.notify",
    "gateway.reports.command": "gateway.cli.reports",
    "gateway.connectors.command": "gateway.cli.connectors",
    "gateway.notify.suppressions_command": "gateway.cli.suppressions",
    # config/: the settings and each section's schema
    "gateway.config": "gateway.config.settings",
    "gateway.classify_config": "gateway.config.classify",
    "gateway.escalation_config": "gateway.config.escalation",
    "gateway.connectors_config": "gateway.config.connectors",
    # the project file's people: address -> name (reads ProjectConfig and addresses only)
    "gateway.people": "gateway.config.people",
    # notify/: safe outbound header values are used by notify.compose only
    "gateway.headers": "gateway.notify.headers",
    # records/: the examples corrections give read records.history and the store, so the
    # corrections stage sits above classify (classify.learn stays pure)
    "gateway.classify_corrections": "gateway.records.corrections",
    # records/: times in the project's zone for records show/search/CSV (connectors read it
    # too, one layer up)
    "gateway.localtime": "gateway.records.localtime",
}

# Prefix families: a module gateway/<prefix>_<rest>.py not in MOVES goes to <package>.<rest>.
FAMILIES: dict[str, str] = {
    "classify_": "gateway.classify", "receipts_": "gateway.receipts",
    "escalation_": "gateway.escalation", "audit_": "gateway.audit", "demo_": "gateway.demo",
}

# The docstring of each new package's __init__.py.
PACKAGE_DOCS: dict[str, str] = {
    "gateway.classify": "The classify stage's pure logic: facts, rules, decisions, findings.",
    "gateway.receipts": "Receipts: who owes a confirmation, the states, answers, events, queries.",
    "gateway.escalation": "Escalation: business time, the reminder ladder's plan and its mails.",
    "gateway.audit": "The audit trail: the hash chain, its state, replay, verification, anchors.",
    "gateway.demo": "``commgate demo``'s cast, story and view (the command is gateway.cli.demo).",
    "gateway.runtime": "What ``commgate serve`` runs: listener, ops, reload, logs, metrics.",
    "gateway.stages": "The pipeline's stage adapters: unpack the context, call the domain, write.",
    "gateway.jobs": "Background work: dramatiq actors and broker, the periodic scheduler.",
    "gateway.cli": "The ``commgate`` command line: one module per command group (main: start-up).",
    "gateway.config": "Configuration: the settings (settings.py) and each section's schema.",
}

TEXT_FILES = ("README.md", "docs/**/*.md", "pyproject.toml", "config/**/*.toml", "docker/*",
              ".ci/run", "alembic.ini", "**/alembic.ini")
PY_DIRS = ("gateway", "tests", "bench", "tools")

# --------------------------------------------------------------------------------------------
# import-linter: contracts written into pyproject.toml.
# --------------------------------------------------------------------------------------------
IMPORT_LINTER_REQ = '"import-linter>=2.1,<3",      # lint-imports: [tool.importlinter] contracts'
IMPORT_LINTER_PINS = {"import-linter": "2.17", "grimp": "3.20"}

IMPORTLINTER = '''
[tool.importlinter]
root_package = "gateway"
# Imports under TYPE_CHECKING are for annotations only and do not run; they are not counted.
exclude_type_checking_imports = true

[[tool.importlinter.contracts]]
name = "layers: cli, demo -> runtime -> jobs -> pipeline -> stages -> domain -> store -> config"
type = "layers"
# errors, app and the small shared modules at the root (addresses, identity, paths, thread,
# project_state, retention) are outside the layers. Modules in one layer joined by ":" may
# import each other; only the downward direction between layers is allowed.
layers = [
    "gateway.cli",
    "gateway.demo",
    "gateway.runtime",
    "gateway.jobs",
    "gateway.pipeline",
    "gateway.stages",
    "gateway.inbound : gateway.reports : gateway.connectors : gateway.archive",
    "gateway.escalation : gateway.notify : gateway.receipts : gateway.records",
    "gateway.classify : gateway.audit : gateway.parse : gateway.rules",
    "gateway.store",
    "gateway.config",
]
ignore_imports = [
@@IGNORES@@
]

[[tool.importlinter.contracts]]
name = "no import cycle between the modules of a package"
type = "acyclic_siblings"
# Not yet gateway itself (16 package-level edges close cycles; lint-imports lists them once it
# is added here), nor gateway.cli (receipts_manual <-> receipts) or gateway.records
# (store <-> edit): issue #18's cycle work.
ancestors = ["gateway.archive", "gateway.audit", "gateway.classify", "gateway.config",
             "gateway.connectors", "gateway.demo", "gateway.escalation", "gateway.inbound",
             "gateway.jobs", "gateway.notify", "gateway.parse", "gateway.receipts",
             "gateway.reports", "gateway.runtime", "gateway.stages", "gateway.store"]
ignore_imports = [
    # bounces.tell_sender queues its notice through notify.system, which queues through outbox,
    # which reads bounces' NEVER_SUPPRESSED: a function-level import, issue #18's cycle work
    "gateway.notify.bounces -> gateway.notify.system",
]
'''

# Every import the contracts still find against the target direction, with the reason. Each is
# a debt of issue #18 (the cycles it names, or code the issue moves later); none is new.
CYCLE_2 = ("cycle 2 of #18: cli -> runtime.server -> jobs.scheduler -> archive.periodic -> "
           "archive.export -> archive.records -> cli.records; conclude()/write_export() must "
           "move out of the command module into records/")
CYCLE_1 = ("cycle 1 of #18: pipeline -> stages -> domain -> pipeline; a function-level import "
           "that re-enters the pipeline (process/Context) from the domain")
OBSERVE = ("logs and metrics are cross-cutting but live in runtime/ (the issue's layout): "
           "pass them in, or move them below the layers")
LAYER_IGNORES: list[tuple[str, str]] = [
    ("gateway.archive.records -> gateway.cli.records", CYCLE_2),
    ("gateway.config.escalation -> gateway.escalation.businesstime",
     "the [escalation] schema parses working hours with escalation's BusinessCalendar: "
     "the calendar's data part belongs in config/"),
    ("gateway.records.reclassify -> gateway.pipeline", CYCLE_1),
    ("gateway.records.reclassify -> gateway.stages.adapters",
     CYCLE_1 + " (reclassify re-parses a record's messages with the parse stage's bound)"),
    ("gateway.config.settings -> gateway.reports.periods",
     "the [reports] schema checks a frequency with reports' period parser: the parser's "
     "data part belongs in config/"),
    ("gateway.notify.notices -> gateway.pipeline", CYCLE_1),
    ("gateway.notify.notices -> gateway.inbound.intake", CYCLE_1),
    ("gateway.pipeline -> gateway.runtime.logs", OBSERVE),
    ("gateway.pipeline -> gateway.runtime.metrics", OBSERVE),
    ("gateway.inbound.writer -> gateway.runtime.logs", OBSERVE),
    ("gateway.inbound.imap -> gateway.runtime.metrics", OBSERVE),
    ("gateway.inbound.imap_sync -> gateway.runtime.metrics", OBSERVE),
    ("gateway.inbound.smtp -> gateway.runtime.metrics", OBSERVE),
]


# --------------------------------------------------------------------------------------------
@dataclass
class Report:
    moved: list[tuple[str, str]] = field(default_factory=list)
    auto_added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rewritten: dict[str, int] = field(default_factory=dict)
    by_hand: list[str] = field(default_factory=list)

    def note(self, path: Path, count: int) -> None:
        if count:
            self.rewritten[str(path)] = self.rewritten.get(str(path), 0) + count


def run(cmd: list[str], root: Path, check: bool = True) -> str:
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    if check and proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def module_file(root: Path, dotted: str) -> Path:
    """The file a (new or old) dotted name lives in."""
    parts = dotted.split(".")
    if parts[-1] == "__init__":
        return root.joinpath(*parts[:-1], "__init__.py")
    return root.joinpath(*parts).with_suffix(".py")


def public(dotted: str) -> str:
    return dotted.removesuffix(".__init__")


def plan(root: Path, report: Report) -> dict[str, str]:
    """MOVES restricted to what exists, plus new modules of a known prefix family."""
    moves: dict[str, str] = {}
    for old, new in MOVES.items():
        src = module_file(root, old)
        if not src.is_file():
            report.skipped.append(f"{old}: {src.relative_to(root)} not found (renamed/removed?)")
            continue
        moves[old] = new
    taken = {public(new) for new in moves.values()}
    for path in sorted((root / "gateway").glob("*.py")):
        old = f"gateway.{path.stem}"
        if old in moves or path.stem in ("__init__", "__main__"):
            continue
        new = ""
        for prefix, package in FAMILIES.items():
            if path.stem.startswith(prefix) and not path.stem.endswith(("_command", "_config")):
                new = f"{package}.{path.stem.removeprefix(prefix)}"
        if path.stem.endswith("_command"):
            new = f"gateway.cli.{path.stem.removesuffix('_command')}"
        elif path.stem.endswith("_config"):
            new = f"gateway.config.{path.stem.removesuffix('_config')}"
        if new and new not in taken:
            moves[old] = new
            taken.add(new)
            report.auto_added.append(f"{old} -> {new}")
        elif new:
            report.skipped.append(f"{old}: would go to {new}, which is taken; move it by hand")
    for new in moves.values():
        dest = module_file(root, new)
        if dest.exists():
            raise SystemExit(f"{dest} already exists: the table no longer fits this tree")
    return moves


def new_packages(moves: dict[str, str]) -> list[str]:
    packages: set[str] = set()
    for new in moves.values():
        parts = public(new).split(".")
        if new.endswith(".__init__"):
            parts.append("")
        for i in range(2, len(parts)):
            packages.add(".".join(parts[:i]))
    return sorted(packages)


# --------------------------------------------------------------------------------------------
# Rewriting.
# --------------------------------------------------------------------------------------------
class Names:
    """Old -> new names, as dotted names, ``gateway/x.py`` paths, and regular expressions."""

    def __init__(self, moves: dict[str, str]) -> None:
        self.dotted = {old: public(new) for old, new in moves.items()}
        self.paths: dict[str, str] = {}
        for old, new in moves.items():
            old_path = old.replace(".", "/") + ".py"
            new_path = (public(new).replace(".", "/") + "/__init__.py" if new.endswith("__init__")
                        else new.replace(".", "/") + ".py")
            self.paths[old_path] = new_path
        alternatives = "|".join(re.escape(o) for o in sorted(self.dotted, key=len, reverse=True))
        # a dotted old name, not part of a longer name, not preceded by a word, dot or slash
        self.dotted_re = re.compile(rf"(?<![\w./-])({alternatives})(?![\w])")
        paths = "|".join(re.escape(p) for p in sorted(self.paths, key=len, reverse=True))
        self.path_re = re.compile(rf"(?<![\w.-])({paths})(?![\w])")

    def text(self, s: str) -> tuple[str, int]:
        count = 0

        def dotted(m: re.Match[str]) -> str:
            nonlocal count
            count += 1
            return self.dotted[m.group(1)]

        def path(m: re.Match[str]) -> str:
            nonlocal count
            count += 1
            return self.paths[m.group(1)]

        s = self.path_re.sub(path, s)
        s = self.dotted_re.sub(dotted, s)
        return s, count

    def module(self, name: str) -> str:
        """The new name of a module or of anything below it (``gateway.x.f``)."""
        for old in sorted(self.dotted, key=len, reverse=True):
            if name == old or name.startswith(old + "."):
                return self.dotted[old] + name[len(old):]
        return name


def offsets(source: str) -> list[int]:
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


def module_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve_relative(current: str, is_package: bool, level: int, module: str | None) -> str:
    base = current.split(".") if is_package else current.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def rewrite_python(source: str, names: Names, here: str, was: str, is_package: bool,
                   report: Report, path: Path) -> tuple[str, int]:
    """Rewrite one module's imports, dotted names, strings and comments.

    ``here`` is the module's name after the move, ``was`` its name before (relative imports
    are resolved against ``was``).
    """
    tree = ast.parse(source)
    starts = offsets(source)
    edits: list[tuple[int, int, str]] = []
    import_spans: list[tuple[int, int]] = []

    def span(node: ast.stmt) -> tuple[int, int]:
        assert node.end_lineno is not None and node.end_col_offset is not None
        return (starts[node.lineno - 1] + node.col_offset,
                starts[node.end_lineno - 1] + node.end_col_offset)

    def alias_text(a: ast.alias) -> str:
        return a.name + (f" as {a.asname}" if a.asname else "")

    indent_of = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if not any(names.module(a.name) != a.name for a in node.names):
                continue
            start, end = span(node)
            parts = []
            for a in node.names:
                new = names.module(a.name)
                parts.append(new + (f" as {a.asname}" if a.asname else ""))
            edits.append((start, end, "import " + ", ".join(parts)))
            import_spans.append((start, end))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                target = resolve_relative(was, is_package, node.level, node.module)
                if not target.startswith("gateway"):
                    continue
                absolute = True
            else:
                target = node.module or ""
                absolute = False
                if not target.startswith("gateway"):
                    continue
            start, end = span(node)
            line_start = starts[node.lineno - 1]
            indent = source[line_start:line_start + node.col_offset]
            indent_of[start] = indent
            statements: list[str] = []
            if target == "gateway":
                # from gateway import x, y: each moved x becomes from <pkg> import <mod> as x
                keep = []
                for a in node.names:
                    old = f"gateway.{a.name}"
                    if old in names.dotted:
                        new = names.dotted[old]
                        pkg, _, mod = new.rpartition(".")
                        local = a.asname or a.name
                        statements.append(f"from {pkg} import {mod}"
                                          + (f" as {local}" if local != mod else ""))
                    else:
                        keep.append(alias_text(a))
                if not statements and not absolute:
                    continue
                if keep:
                    statements.insert(0, "from gateway import " + ", ".join(keep))
            else:
                new_target = names.module(target)
                if new_target == target and not absolute:
                    continue
                # "from gateway.x import (a, b)" keeps its own formatting after the module name
                text = source[start:end]
                head = re.match(r"from\s+[.\w]+\s+import\s*", text)
                if head is None:
                    report.by_hand.append(f"{path}:{node.lineno}: unusual import, not rewritten")
                    continue
                statements.append(f"from {new_target} import " + text[head.end():])
            edits.append((start, end, ("\n" + indent).join(statements)))
            import_spans.append((start, end))

    def in_import(pos: int) -> bool:
        return any(a <= pos < b for a, b in import_spans)

    # dotted chains in code (gateway.x.f after "import gateway.x"), strings and comments
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    string_types = {tokenize.STRING, tokenize.COMMENT}
    fstring_middle = getattr(tokenize, "FSTRING_MIDDLE", None)
    if fstring_middle is not None:
        string_types.add(fstring_middle)
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        pos = starts[tok.start[0] - 1] + tok.start[1]
        if tok.type in string_types and not in_import(pos):
            new, n = names.text(tok.string)
            if n:
                end = starts[tok.end[0] - 1] + tok.end[1]
                edits.append((pos, end, new))
        elif (tok.type == tokenize.NAME and tok.string == "gateway" and not in_import(pos)
              and not (i and tokens[i - 1].type == tokenize.OP and tokens[i - 1].string == ".")):
            j = i
            chain = ["gateway"]
            while (j + 2 < len(tokens) and tokens[j + 1].string == "."
                   and tokens[j + 2].type == tokenize.NAME):
                chain.append(tokens[j + 2].string)
                j += 2
            dotted = ".".join(chain)
            new = names.module(dotted)
            if new != dotted:
                end = starts[tokens[j].end[0] - 1] + tokens[j].end[1]
                edits.append((pos, end, new))
            i = j
        i += 1

    if not edits:
        return source, 0
    edits.sort()
    out = []
    last = 0
    for start, end, text in edits:
        if start < last:
            continue
        out.append(source[last:start])
        out.append(text)
        last = end
    out.append(source[last:])
    return "".join(out), len(edits)


FILE_PARENTS = re.compile(r"(Path\(__file__\)(?:\.resolve\(\))?\.parents\[)(\d+)(\])")
FILE_PARENT = re.compile(r"Path\(__file__\)(?:\.resolve\(\))?((?:\.parent)+)(?!s)")


def fix_file_paths(source: str, depth: int, path: Path, report: Report) -> str:
    """Keep ``Path(__file__)``-relative paths of a module moved ``depth`` packages deeper."""
    if depth <= 0:
        return source

    def parents(m: re.Match[str]) -> str:
        return f"{m.group(1)}{int(m.group(2)) + depth}{m.group(3)}"

    def parent(m: re.Match[str]) -> str:
        n = m.group(1).count(".parent")
        return m.group(0)[: -len(m.group(1))] + f".parents[{n - 1 + depth}]"

    lines = []
    for number, line in enumerate(source.splitlines(keepends=True), 1):
        if "__file__" in line or "__package__" in line or "importlib.resources" in line:
            fixed = FILE_PARENT.sub(parent, FILE_PARENTS.sub(parents, line))
            if fixed == line:
                report.by_hand.append(f"{path}:{number}: file-relative path, check by hand: "
                                      f"{line.strip()}")
            else:
                report.by_hand.append(f"{path}:{number}: depth +{depth} fixed: {fixed.strip()}")
            line = fixed
        lines.append(line)
    return "".join(lines)


LIMIT = 100  # [tool.ruff] line-length


def width(text: str) -> int:
    """Display width as ruff counts it: East Asian wide characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def cut_at(text: str, start: int) -> int:
    """The last space after ``start`` at which ``text`` fits in LIMIT columns (-1: none)."""
    best = -1
    for i, c in enumerate(text):
        if width(text[:i]) > LIMIT:
            break
        if c == " " and i > start:
            best = i
    return best


def wrap_long_lines(source: str, before: str, path: Path, report: Report) -> str:
    """Re-wrap prose lines (comments, docstrings) that a longer new name pushed past LIMIT."""
    old_lines = set(before.splitlines())
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    doc_lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str) and body[0].end_lineno is not None):
                doc_lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    out: list[str] = []
    for number, line in enumerate(source.splitlines(keepends=True), 1):
        text = line.rstrip("\n")
        if width(text) <= LIMIT or text in old_lines:
            out.append(line)
            continue
        indent = text[: len(text) - len(text.lstrip())]
        comment = text.lstrip().startswith("#")
        if text.lstrip().startswith(("from ", "import ")):
            out.append(line)  # ruff's isort fix (run at the end) wraps imports
            continue
        if not comment and number not in doc_lines:
            report.by_hand.append(f"{path}: longer than {LIMIT} after the rewrite (code): "
                                  f"{text.strip()}")
            out.append(line)
            continue
        lead = indent + ("# " if comment else "")
        pieces = []
        while width(text) > LIMIT:
            cut = cut_at(text, len(lead) + 4)
            if cut < 0:
                break
            pieces.append(text[:cut].rstrip())
            text = lead + text[cut + 1:].lstrip()
        pieces.append(text)
        out.append("\n".join(pieces) + ("\n" if line.endswith("\n") else ""))
    return "".join(out)


# --------------------------------------------------------------------------------------------
def add_import_linter(root: Path, report: Report) -> None:
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    if "import-linter" not in text:
        m = re.search(r"^test = \[\n(.*?)^\]", text, flags=re.S | re.M)
        if m is None:
            report.by_hand.append("pyproject.toml: no test extra found; add import-linter")
        else:
            text = text[: m.end() - 1] + f"    {IMPORT_LINTER_REQ}\n" + text[m.end() - 1:]
    if "\n[tool.importlinter]" not in text:
        def lines(pairs: list[tuple[str, str]]) -> str:
            out = []
            for imp, why in pairs:
                out.append(f"    # {why}")
                out.append(f'    "{imp}",')
            return "\n".join(out)
        block = IMPORTLINTER.replace("@@IGNORES@@", lines(LAYER_IGNORES))
        text = text.rstrip("\n") + "\n" + block
    pyproject.write_text(text, encoding="utf-8")

    constraints = root / "constraints.txt"
    if constraints.is_file():
        lines_ = constraints.read_text(encoding="utf-8").splitlines()
        have = {re.split(r"[=<>~ ]", ln, maxsplit=1)[0].lower()
                for ln in lines_ if ln[:1].isalnum()}
        for name, version in IMPORT_LINTER_PINS.items():
            if name.lower() in have:
                continue
            at = next((i for i, ln in enumerate(lines_) if ln[:1].isalnum()
                       and ln.lower() > name.lower()), len(lines_))
            lines_.insert(at, f"{name}=={version}")
        constraints.write_text("\n".join(lines_) + "\n", encoding="utf-8")

    ci = root / ".ci" / "run"
    if ci.is_file():
        text = ci.read_text(encoding="utf-8")
        if "lint-imports" not in text:
            new, n = re.subn(r"^mypy[ \t]*$", "mypy\nlint-imports", text, count=1, flags=re.M)
            if n:
                ci.write_text(new, encoding="utf-8")
            else:
                report.by_hand.append(".ci/run: no 'mypy' line found; add lint-imports by hand")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    root: Path = args.root.resolve()
    report = Report()

    if run(["git", "status", "--porcelain"], root).strip():
        raise SystemExit("the tree has uncommitted changes; commit them first")
    moves = plan(root, report)
    if args.dry_run:
        for old, new in moves.items():
            print(f"{old} -> {public(new)}")
        return 0

    # 1. moves
    for package in new_packages(moves):
        (root.joinpath(*package.split("."))).mkdir(exist_ok=True)
    for old, new in moves.items():
        src, dest = module_file(root, old), module_file(root, new)
        run(["git", "mv", str(src.relative_to(root)), str(dest.relative_to(root))], root)
        report.moved.append((old, public(new)))
    # 2. references in Python files
    names = Names(moves)
    was_of = {module_file(root, new): old for old, new in moves.items()}
    for directory in PY_DIRS:
        for path in sorted((root / directory).rglob("*.py")) if (root / directory).is_dir() else []:
            if "__pycache__" in path.parts or path.resolve() == Path(__file__).resolve():
                continue
            source = path.read_text(encoding="utf-8")
            here = module_name(root, path)
            was = was_of.get(path, here)
            is_package = path.name == "__init__.py" and path not in was_of
            try:
                new, count = rewrite_python(source, names, here, was, is_package, report,
                                            path.relative_to(root))
            except SyntaxError as exc:
                report.by_hand.append(f"{path.relative_to(root)}: not parsed ({exc}); skipped")
                continue
            if path in was_of:
                depth = here.count(".") - was.count(".") + (path.name == "__init__.py")
                new = fix_file_paths(new, depth, path.relative_to(root), report)
            if new != source:
                new = wrap_long_lines(new, source, path.relative_to(root), report)
                path.write_text(new, encoding="utf-8")
                report.note(path.relative_to(root), count)

    # new packages: a docstring-only __init__.py (written after the rewrite: nothing to fix)
    for package in new_packages(moves):
        init = root.joinpath(*package.split("."), "__init__.py")
        if not init.exists():
            doc = PACKAGE_DOCS.get(package, f"The {package.rsplit('.', 1)[1]} package.")
            init.write_text(f'"""{doc}"""\n', encoding="utf-8")
            run(["git", "add", str(init.relative_to(root))], root)
            if package not in PACKAGE_DOCS:
                report.by_hand.append(f"{init.relative_to(root)}: write its docstring")

    # 2b. references in text files
    seen: set[Path] = set()
    for pattern in TEXT_FILES:
        for path in sorted(root.glob(pattern)):
            if not path.is_file() or path in seen or path.suffix == ".py":
                continue
            seen.add(path)
            text = path.read_text(encoding="utf-8")
            new, count = names.text(text)
            if count:
                path.write_text(new, encoding="utf-8")
                report.note(path.relative_to(root), count)
            # bare file names of moved modules (``receipts_answers.py``) in prose
            for old in moves:
                base = old.rsplit(".", 1)[1] + ".py"
                for m in re.finditer(rf"(?<![\w/]){re.escape(base)}", new):
                    number = new.count("\n", 0, m.start()) + 1
                    report.by_hand.append(f"{path.relative_to(root)}:{number}: bare '{base}' "
                                          f"(now {names.paths[old.replace('.', '/') + '.py']})")

    # 3. import-linter
    add_import_linter(root, report)

    # 4. summary
    print(f"moved {len(report.moved)} modules:")
    for old, new in report.moved:
        print(f"  {old:38} -> {new}")
    if report.auto_added:
        print("added by prefix rule (not in MOVES):")
        for line in report.auto_added:
            print(f"  {line}")
    print(f"rewrote {sum(report.rewritten.values())} references in {len(report.rewritten)} files")
    for line in report.skipped:
        print(f"SKIPPED  {line}")
    for line in report.by_hand:
        print(f"CHECK    {line}")
    # anything still naming an old module (outside the files this script rewrites)
    news = sorted({public(n) for n in moves.values()}, key=len, reverse=True)
    packages = set(new_packages(moves))
    packages = set(new_packages(moves))
    for rel in run(["git", "ls-files"], root).splitlines():
        path = root / rel
        if not path.is_file() or path.suffix in (".eml", ".mbox", ".gz", ".zip", ".png"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if path.resolve() == Path(__file__).resolve():
            continue
        for m in names.dotted_re.finditer(text):
            if any(text.startswith(n, m.start()) for n in news if n.startswith(m.group(1))):
                continue
            if m.group(1) in packages:
                continue  # also the name of a new package (gateway.audit): cannot tell
            if text.startswith(" import ", m.end()) and m.group(1) in packages:
                continue  # "from gateway.audit import chain": the new package of that name
            number = text.count("\n", 0, m.start()) + 1
            print(f"LEFT?    {rel}:{number}: {m.group(1)}")
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "--fix", "--select", "I",
                           "-q", *PY_DIRS], cwd=root, capture_output=True, text=True, check=False)
    if ruff.returncode and "No module named" in ruff.stderr:
        print("CHECK    ruff not importable here: run ruff check --fix --select I yourself")
    print("next: ruff check gateway tests bench, mypy, lint-imports, pytest --collect-only")
    return 0


if __name__ == "__main__":
    sys.exit(main())
