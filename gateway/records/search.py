"""Record search: keep each record's searchable text current, and find records by words.

The record stage calls :func:`index_record` after every message that joins a record; it
rewrites the record's ``record_search`` row (subjects, the messages' own text, the conclusion,
attachment names). :func:`search_records` finds a project's records by every whitespace-separated
term of a query (all must match), in any of the three fields:

* SQLite: FTS5 ``trigram`` (``MATCH``) for terms of three characters or more, ranked by BM25
  with the subject weighted above attachment names above the body; shorter terms — most
  two-character Chinese words, e.g. 巡检 — are matched with ``LIKE`` (a trigram index cannot
  answer them).
* PostgreSQL (and SQLite without the FTS5 table): ``ILIKE`` on every term, served by the
  pg_trgm GIN indexes for terms of three characters or more; ranked by where the words occur
  (subject, attachment name) and how often in the body.

The index tables come with a migration; a database that does not have them yet is not an error:
indexing is skipped (``commgate records reindex`` fills it later) and search says so.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Engine,
    case,
    func,
    inspect,
    literal,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from gateway.errors import RecordsError
from gateway.records.localtime import local_iso
from gateway.store.models import Message, Record
from gateway.store.search_models import DOCUMENT_SQL, FTS_TABLE, RecordAttachment, RecordSearch

MIN_TRIGRAM = 3  # FTS5 trigram and pg_trgm index only terms of at least 3 characters
MAX_BODY_CHARS = 200_000  # per record: a runaway thread must not bloat the index
RANK_CHARS = 2000  # SQLite: body characters in which the ranking counts occurrences
SNIPPET_CHARS = 36  # on each side of the first hit
MARK = ("«", "»")

_tables_seen: weakref.WeakKeyDictionary[Engine, set[str]] = weakref.WeakKeyDictionary()


def has_table(session: Session, name: str) -> bool:
    """Whether ``name`` exists (remembered once seen: tables are not dropped under us)."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    seen = _tables_seen.setdefault(engine, set())
    if name in seen:
        return True
    if inspect(session.connection()).has_table(name):
        seen.add(name)
        return True
    return False


# --- writing the index ------------------------------------------------------------------------


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))


def index_record(session: Session, record: Record, *, now: datetime) -> bool:
    """Rewrite ``record``'s search row from its messages; False when the table is missing."""
    if not has_table(session, RecordSearch.__tablename__):
        return False
    session.flush()  # the current message's record_id must be visible to the queries below
    rows = session.execute(select(Message.subject, Message.own_text)
                           .where(Message.record_id == record.id)
                           .order_by(Message.received_at, Message.id)).all()
    names = session.scalars(select(RecordAttachment.filename)
                            .where(RecordAttachment.record_id == record.id)
                            .order_by(RecordAttachment.id)).all()
    subject = "\n".join(_unique([record.subject, *(s for s, _t in rows)]))
    texts = [t for _s, t in rows if t] + ([record.conclusion] if record.conclusion else [])
    body = "\n\n".join(texts)[:MAX_BODY_CHARS]
    attachments = "\n".join(_unique(list(names)))
    row = session.get(RecordSearch, record.id)
    if row is None:
        session.add(RecordSearch(record_id=record.id, project_id=record.project_id,
                                 subject=subject, body=body, attachments=attachments,
                                 updated_at=now))
    elif (row.subject, row.body, row.attachments) != (subject, body, attachments):
        row.subject, row.body, row.attachments, row.updated_at = subject, body, attachments, now
    return True


# --- searching --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchHit:
    """One found record: its place in the ranking, where the words were found, and a snippet."""

    record_id: int
    rank: int
    score: float
    subject: str
    category: str
    created_at: datetime
    matched: tuple[str, ...]  # of "subject", "attachments", "body"
    snippet: str

    def as_dict(self, zone: ZoneInfo | None = None) -> dict[str, Any]:
        """JSON fields; ``created_at`` in ``zone`` (the project's) with its offset."""
        return {"record_id": self.record_id, "rank": self.rank, "score": round(self.score, 4),
                "subject": self.subject, "category": self.category,
                "created_at": local_iso(self.created_at, zone), "matched": list(self.matched),
                "snippet": self.snippet}


def query_terms(query: str) -> list[str]:
    return _unique(query.split())


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def caseless(term: str) -> bool:
    """Chinese (and digits) have no case: such a term needs no case folding, which is what
    makes PostgreSQL's ILIKE several times slower than LIKE on long text."""
    return term.lower() == term.upper()


def _contains(column: Any, term: str, dialect: str) -> ColumnElement[bool]:
    # SQLite's LIKE already ignores ASCII case (and its lower() knows no more than ASCII).
    pattern = _like_pattern(term)
    if dialect == "sqlite" or caseless(term):
        return column.like(pattern, escape="\\")  # type: ignore[no-any-return]
    return column.ilike(pattern, escape="\\")  # type: ignore[no-any-return]


def _term_matches(term: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":  # the expression of the trigram index, spelled the same
        return _contains(literal_column(f"({DOCUMENT_SQL})"), term, dialect)
    return or_(*(_contains(c, term, dialect)
                 for c in (RecordSearch.subject, RecordSearch.attachments, RecordSearch.body)))


def _term_score(term: str, dialect: str) -> ColumnElement[Any]:
    """Subject 10, attachment name 5, plus occurrences in the body (at most 10)."""
    body: Any = RecordSearch.body
    if dialect == "sqlite":  # bound the work per row; SQLite's length() counts characters
        needle = term.lower()
        body = func.substr(body, 1, RANK_CHARS)
        body, length, unit = body if caseless(term) else func.lower(body), func.length, len(term)
    else:
        # Counting bytes spares PostgreSQL decoding UTF-8 per row, and lower() over a whole body
        # would triple the query's time: occurrences are counted as the term is spelled.
        needle, length, unit = term, func.octet_length, len(term.encode())
    occurrences = (length(body) - length(func.replace(body, literal(needle), ""))) / unit
    capped = (func.min if dialect == "sqlite" else func.least)(occurrences, 10)
    return (case((_contains(RecordSearch.subject, term, dialect), 10), else_=0)
            + case((_contains(RecordSearch.attachments, term, dialect), 5), else_=0)
            + capped)


def _ranked_by_like(session: Session, project_id: int, terms: list[str],
                    limit: int) -> list[tuple[int, float]]:
    dialect = session.get_bind().dialect.name
    score = sum((_term_score(t, dialect) for t in terms[1:]), _term_score(terms[0], dialect))
    q = (select(RecordSearch.record_id, score.label("score"))
         .where(RecordSearch.project_id == project_id,
                *(_term_matches(t, dialect) for t in terms))
         .order_by(score.desc(), RecordSearch.updated_at.desc(), RecordSearch.record_id.desc())
         .limit(limit))
    return [(rid, float(s)) for rid, s in session.execute(q)]


def _fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _ranked_by_fts5(session: Session, project_id: int, terms: list[str],
                    limit: int) -> list[tuple[int, float]]:
    long_terms = [t for t in terms if len(t) >= MIN_TRIGRAM]
    params: dict[str, Any] = {"match": " AND ".join(_fts_phrase(t) for t in long_terms),
                              "project": project_id, "limit": limit}
    short = ""
    for i, term in enumerate(t for t in terms if len(t) < MIN_TRIGRAM):
        params[f"s{i}"] = _like_pattern(term)
        short += (f" AND (rs.subject LIKE :s{i} ESCAPE '\\' OR rs.attachments LIKE :s{i} "
                  f"ESCAPE '\\' OR rs.body LIKE :s{i} ESCAPE '\\')")
    # bm25 weights per column (subject, body, attachments); smaller is better.
    sql = (f"SELECT rs.record_id, bm25({FTS_TABLE}, 10.0, 1.0, 5.0) AS score "
           f"FROM {FTS_TABLE} JOIN record_search rs ON rs.record_id = {FTS_TABLE}.rowid "
           f"WHERE {FTS_TABLE} MATCH :match AND rs.project_id = :project{short} "
           "ORDER BY score, rs.record_id DESC LIMIT :limit")
    return [(rid, -float(s)) for rid, s in session.execute(text(sql), params)]


def search_method(session: Session, terms: list[str]) -> str:
    """"fts5", "like" (SQLite without FTS5 or only short terms), "trigram" or "ilike"."""
    if session.get_bind().dialect.name == "sqlite":
        long_term = any(len(t) >= MIN_TRIGRAM for t in terms)
        return "fts5" if long_term and has_table(session, FTS_TABLE) else "like"
    return "trigram" if all(len(t) >= MIN_TRIGRAM for t in terms) else "ilike"


def search_records(session: Session, *, project_id: int, query: str,
                   limit: int = 20) -> list[SearchHit]:
    """The project's records matching every term of ``query``, best first."""
    terms = query_terms(query)
    if not terms:
        return []
    if not has_table(session, RecordSearch.__tablename__):
        raise RecordsError("the search index is not installed",
                         hint="run `commgate db upgrade`, then `commgate records reindex`")
    if search_method(session, terms) == "fts5":
        ranked = _ranked_by_fts5(session, project_id, terms, limit)
    else:
        ranked = _ranked_by_like(session, project_id, terms, limit)
    rows = {r.record_id: r for r in session.execute(
        select(RecordSearch.record_id, RecordSearch.body, RecordSearch.attachments,
               Record.subject, Record.category, Record.created_at)
        .join(Record, Record.id == RecordSearch.record_id)
        .where(RecordSearch.record_id.in_([rid for rid, _s in ranked])))}
    hits: list[SearchHit] = []
    for rid, score in ranked:
        r = rows[rid]
        fields = {"subject": r.subject, "attachments": r.attachments, "body": r.body}
        hits.append(SearchHit(record_id=rid, rank=len(hits) + 1, score=score,
                              subject=r.subject, category=r.category, created_at=r.created_at,
                              matched=matched_fields(fields, terms),
                              snippet=make_snippet(fields, terms)))
    return hits


def matched_fields(fields: dict[str, str], terms: list[str]) -> tuple[str, ...]:
    folded = [t.casefold() for t in terms]
    return tuple(name for name, value in fields.items()
                 if any(t in value.casefold() for t in folded))


def make_snippet(fields: dict[str, str], terms: list[str], *,
                 width: int = SNIPPET_CHARS) -> str:
    """The text around the first hit, body first (it says most), the hit marked «…»."""
    folded = [t.casefold() for t in terms]
    for name in ("body", "attachments", "subject"):
        value = fields.get(name, "")
        low = value.casefold()
        found = [(low.find(t), t) for t in folded if t in low]
        if not found or len(low) != len(value):  # casefold changed lengths: no offsets
            continue
        pos, term = min(found)
        if name == "attachments":  # the whole attachment name the hit is in
            start = value.rfind("\n", 0, pos) + 1
            end = value.find("\n", pos)
            line = value[start:] if end < 0 else value[start:end]
            at = pos - start
            return line[:at] + MARK[0] + line[at:at + len(term)] + MARK[1] + line[at + len(term):]
        start, end = max(0, pos - width), min(len(value), pos + len(term) + width)
        text_ = (value[start:pos] + MARK[0] + value[pos:pos + len(term)] + MARK[1]
                 + value[pos + len(term):end])
        text_ = " ".join(text_.split())
        return ("…" if start else "") + text_ + ("…" if end < len(value) else "")
    return " ".join(fields.get("subject", "").split())[:2 * width]
