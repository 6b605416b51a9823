"""The labelled examples a project's corrections give, its learned model file, and evaluation.

No new table: the examples are derived from what ``records reclassify`` already writes. A record
whose history has a ``reclassified`` entry was looked at by a person; its first message is the
example and the record's fields as they stand now are the labels (what the person changed and
what they let stand).

The model (:class:`gateway.classify.learn.NaiveBayes`) is kept as
``<data_dir>/learned/<project>.json`` and rewritten after every correction
(:func:`retrain`); the pipeline's classify stage reads it through :func:`model_for`, which
rereads the file when it changes and joins it with the company examples
(gateway/classify/seeds.py, unless the project's ``[classify] company_examples`` is off).
The file holds the corrections only. Deleting it is harmless: the next correction writes it
again, and ``commgate classify evaluate`` always trains from the database.

:func:`evaluate` cross-validates over the corrected records: k folds (k ≤ 5), each fold's
records classified by the rules alone and by the rules with a model trained on the other folds
(joined with the company examples, as the pipeline does), per field.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.classify.learn import NaiveBayes, accuracy
from gateway.classify.message import classify
from gateway.classify.model import MessageFacts
from gateway.classify.seeds import project_model
from gateway.config.settings import ProjectConfig
from gateway.records.history import kind
from gateway.store.models import Message, Record

FIELDS = ("category", "stakeholder_group", "formality", "receipt_required")
MAX_FOLDS = 5


@dataclass(frozen=True)
class Example:
    """One corrected record: its first message's facts and the record's fields."""

    record_id: int
    facts: MessageFacts
    labels: dict[str, Any]
    corrections: int  # reclassified entries in its history


def _corrections(record: Record) -> int:
    history = record.history if isinstance(record.history, list) else []
    return sum(1 for entry in history if isinstance(entry, dict) and kind(entry) == "reclassified")


def _facts(message: Message) -> MessageFacts:
    return MessageFacts(subject=message.subject or "", sender=message.from_addr or "",
                        to=tuple(str(a) for a in message.to_addrs or ()),
                        cc=tuple(str(a) for a in message.cc_addrs or ()),
                        own_text=message.own_text or "")


def corrected_examples(session: Session, project_id: int) -> list[Example]:
    """Every record of the project a person reclassified, oldest record first."""
    out: list[Example] = []
    for record in session.scalars(select(Record).where(Record.project_id == project_id)
                                  .order_by(Record.id)):
        count = _corrections(record)
        if not count:
            continue
        first = session.scalars(select(Message).where(Message.record_id == record.id)
                                .order_by(Message.received_at, Message.id).limit(1)).first()
        if first is None:
            continue
        out.append(Example(record.id, _facts(first),
                           {f: getattr(record, f) for f in FIELDS}, count))
    return out


def train(examples: Sequence[Example]) -> NaiveBayes:
    return NaiveBayes.train((e.facts, str(e.labels["category"])) for e in examples)


# --- the model file -----------------------------------------------------------------------------

def model_path(data_dir: Path, project: str) -> Path:
    return data_dir / "learned" / f"{project}.json"


def save(model: NaiveBayes, path: Path) -> None:
    """Write the model atomically (a reader sees the old file or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(model.as_dict(), ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def retrain(session: Session, project_id: int, path: Path) -> NaiveBayes:
    """Train from the project's corrections and write the file; returns the model."""
    model = train(corrected_examples(session, project_id))
    save(model, path)
    return model


_cache: dict[Path, tuple[tuple[float, bool, int], NaiveBayes | None]] = {}
_lock = threading.Lock()


def _read(path: Path) -> NaiveBayes | None:
    try:
        return NaiveBayes.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def model_for(data_dir: Path, project: ProjectConfig) -> NaiveBayes | None:
    """The project's model: the company examples (gateway/classify/seeds.py) joined with the
    project's corrections file, or None (learning off: the rules decide alone). No file yet
    or an unreadable one: the company examples alone (none when ``company_examples`` is off).
    Joined once per change of the file, not per message."""
    settings = project.classify
    if not settings.learn:
        return None
    path = model_path(data_dir, project.code)
    try:
        stamp = path.stat().st_mtime
    except OSError:
        stamp = -1.0
    key = (stamp, settings.company_examples, settings.correction_weight)
    with _lock:
        cached = _cache.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
    model = project_model(_read(path) if stamp >= 0 else None, settings)
    with _lock:
        _cache[path] = (key, model)
    return model


# --- evaluation -----------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldScore:
    field: str
    rules: float
    learned: float


@dataclass(frozen=True)
class Evaluation:
    examples: int
    folds: int
    fields: tuple[FieldScore, ...]
    changed: int  # held-out decisions the model changed

    def as_dict(self) -> dict[str, Any]:
        return {"examples": self.examples, "folds": self.folds, "changed_by_model": self.changed,
                "fields": {f.field: {"rules": round(f.rules, 4), "with_learning":
                                     round(f.learned, 4)} for f in self.fields}}


def evaluate(examples: Sequence[Example], project: ProjectConfig) -> Evaluation:
    """Per-field accuracy over ``examples`` by k-fold cross-validation (fold = index mod k)."""
    folds = min(MAX_FOLDS, len(examples))
    if folds < 2:
        return Evaluation(len(examples), 0, tuple(FieldScore(f, 0.0, 0.0) for f in FIELDS), 0)
    pairs_rules: dict[str, list[tuple[object, object]]] = {f: [] for f in FIELDS}
    pairs_learned: dict[str, list[tuple[object, object]]] = {f: [] for f in FIELDS}
    learning = project.model_copy(update={"classify": project.classify.model_copy(
        update={"learn": True})})
    changed = 0
    for fold in range(folds):
        held = [e for i, e in enumerate(examples) if i % folds == fold]
        model = project_model(train([e for i, e in enumerate(examples) if i % folds != fold]),
                              learning.classify)
        for example in held:
            plain = classify(example.facts, project)
            helped = classify(example.facts, learning, model=model)
            changed += plain.category != helped.category
            for f in FIELDS:
                pairs_rules[f].append((example.labels[f], getattr(plain, f)))
                pairs_learned[f].append((example.labels[f], getattr(helped, f)))
    scores = tuple(FieldScore(f, accuracy(pairs_rules[f]), accuracy(pairs_learned[f]))
                   for f in FIELDS)
    return Evaluation(len(examples), folds, scores, changed)
