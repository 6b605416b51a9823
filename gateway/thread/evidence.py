"""Threading stage, pure logic: what a message says about its conversation, and the JWZ rules.

The parse stage hands us headers; :func:`evidence` turns them into a :class:`ThreadEvidence`
(normalised Message-IDs, capped References, subject key, Outlook conversation key, record code).
:class:`Threader` is the in-memory incremental threader; :mod:`gateway.thread.assign` applies
the very same rules to the database. Evidence is weighed in order (docs/threading.md):
``references`` (JWZ / RFC 5256 REFERENCES containers; several threads merge into the oldest),
``thread-index`` (Outlook), ``record-code`` (``[demo#R42]``), ``subject`` (conservative, see
:func:`subject_may_join`), else ``new``.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from gateway.identity import normalize_message_id

Via = Literal["references", "thread-index", "record-code", "subject", "new"]

MAX_REFERENCES = 100  # the root plus the 99 most recent ids (JWZ: the tail names the parent)
MAX_ID_LENGTH = 998  # RFC 5322 line limit; also the thread_refs.message_id column width
SUBJECT_KEY_LENGTH = 512  # threads.subject_key column width
SUBJECT_WINDOW = timedelta(days=14)
THREAD_INDEX_DOMAIN = "thread-index.commgate.invalid"  # RFC 2606: can never be a real id

_REPLY = r"re|aw|sv|antw|回复|回覆|答复|答覆"
_FORWARD = r"fwd?|wg|tr|转发|轉發|转寄|轉寄"
# RFC 5256 section 2.1 "subj-refwd", widened to the German, French and Chinese clients:
# "Re:", "Re[2]:", "Re(2):", "Re^2:", "回复:", with any spacing before the colon.
_PREFIX = re.compile(rf"^(?:({_REPLY})|{_FORWARD})\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*:\s*",
                     re.IGNORECASE)
_BLOB = re.compile(r"^\[[^\[\]]*\]\s*")  # RFC 5256 "subj-blob": list tags like [proj-demo]
_FWD_WRAP = re.compile(r"^\[fwd:\s*(.*)\]$", re.IGNORECASE)  # RFC 5256 "[fwd: ...]"
_FWD_TRAILER = re.compile(r"\s*\(fwd\)$", re.IGNORECASE)  # RFC 5256 "subj-trailer"
_RECORD_TAG = re.compile(r"\[[\w.-]+#r\d+\]", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_BLANK = re.compile(r"\s")


@dataclass(frozen=True)
class ThreadEvidence:
    """What one message says about its conversation (independent of the parse stage's types).

    ``references`` run oldest → newest with the In-Reply-To parent last; ``thread_index`` is
    the Outlook conversation key (base64 of the first 22 bytes of ``Thread-Index``), not the
    raw header; ``is_reply`` is set by a reply prefix or by a Thread-Index with child blocks.
    """

    message_id: str
    references: tuple[str, ...]
    subject: str
    date: datetime | None
    thread_index: str | None
    thread_topic: str | None
    record_code: int | None
    is_reply: bool = False

    @property
    def subject_key(self) -> str:
        key = normalize_subject(self.subject) or normalize_subject(self.thread_topic or "")
        return key[:SUBJECT_KEY_LENGTH]

    @property
    def thread_index_ref(self) -> str | None:
        """The conversation key as a pseudo Message-ID, so it can live in ``thread_refs``."""
        return f"{self.thread_index}@{THREAD_INDEX_DOMAIN}" if self.thread_index else None


@dataclass(frozen=True)
class ThreadAssignment:
    """Where a message went: ``merged`` lists the threads absorbed into ``thread_id``."""

    thread_id: int
    merged: list[int] = field(default_factory=list)
    created: bool = False
    via: Via = "new"


def _strip(subject: str) -> tuple[str, bool]:
    text = _SPACE.sub(" ", unicodedata.normalize("NFKC", subject)).strip()
    text = _RECORD_TAG.sub(" ", text).strip()
    reply = False
    while True:
        before = text
        text = _FWD_TRAILER.sub("", text)
        if wrapped := _FWD_WRAP.match(text):
            text = wrapped.group(1).strip()
        if match := _PREFIX.match(text):
            reply = reply or match.group(1) is not None
            text = text[match.end():]
        if (blob := _BLOB.match(text)) and text[blob.end():]:  # never strip down to nothing
            text = text[blob.end():]
        if text == before:
            return text.strip(), reply


def normalize_subject(subject: str) -> str:
    """Base subject: prefixes in both languages, nested, list tags and record tags removed.

    ``"Re: [proj-demo] 回复：AW: Re[2]: 周报"`` → ``"周报"``. NFKC folds full-width colons,
    spaces and brackets; the result is case-folded with single spaces.
    """
    return _strip(subject)[0].casefold()


def is_reply_subject(subject: str) -> bool:
    """True when a reply prefix (not a forward one) was removed by :func:`normalize_subject`."""
    return _strip(subject)[1]


def record_code(subject: str, project_code: str | None) -> int | None:
    """The record number of our own subject tag ``[<project_code>#R<n>]``, if present."""
    if not project_code:
        return None
    text = unicodedata.normalize("NFKC", subject)
    pattern = rf"\[\s*{re.escape(project_code)}\s*#\s*R(\d{{1,12}})\s*\]"
    match = re.search(pattern, text, re.IGNORECASE)
    return int(match.group(1)) if match else None


def thread_index_key(value: str | None) -> tuple[str, bool] | None:
    """Outlook ``Thread-Index`` → (conversation key, has child blocks), or None if unusable.

    [MS-OXOMSG] 2.2.1.3: a 22-byte header (reserved byte, FILETIME, GUID) identifies the
    conversation; each reply appends a 5-byte child block.
    """
    if not value:
        return None
    try:
        raw = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) < 22:
        return None
    return base64.b64encode(raw[:22]).decode("ascii"), len(raw) > 22


def _ids(values: Sequence[str]) -> list[str]:
    if len(values) > 2 * MAX_REFERENCES:  # cap before any work: 20,000 ids cost like 200
        values = [*values[:1], *values[-2 * MAX_REFERENCES:]]
    out = []
    for value in values:
        mid = normalize_message_id(value)
        if mid and len(mid) <= MAX_ID_LENGTH and not _BLANK.search(mid):
            out.append(mid)
    return out


def evidence(*, message_id: str, in_reply_to: Sequence[str], references: Sequence[str],
             subject: str, date: datetime | None, thread_index: str | None,
             thread_topic: str | None, project_code: str | None) -> ThreadEvidence:
    """Build the evidence for one message from its parsed headers."""
    own = normalize_message_id(message_id)
    chain = _ids(references)
    parent = _ids(in_reply_to[:1])
    # JWZ: In-Reply-To names the parent, so it goes last; a later duplicate wins its place.
    chain = [mid for mid in chain if mid not in parent] + parent
    seen: set[str] = {own}
    kept: list[str] = []
    for mid in reversed(chain):
        if mid not in seen:
            seen.add(mid)
            kept.append(mid)
    kept.reverse()
    if len(kept) > MAX_REFERENCES:  # keep the root, which names the thread, and the tail
        kept = kept[:1] + kept[-(MAX_REFERENCES - 1):]
    index = thread_index_key(thread_index)
    if date is not None and date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    return ThreadEvidence(
        message_id=own, references=tuple(kept), subject=subject, date=date,
        thread_index=index[0] if index else None, thread_topic=thread_topic,
        record_code=record_code(subject, project_code),
        is_reply=is_reply_subject(subject) or bool(index and index[1]))


def links(ev: ThreadEvidence) -> list[tuple[str, str | None, bool]]:
    """JWZ step 1: (container id, parent id, seen) for each reference, then the message."""
    out: list[tuple[str, str | None, bool]] = []
    parent: str | None = None
    for mid in ev.references:
        out.append((mid, parent, False))
        parent = mid
    out.append((ev.message_id, parent, True))
    return out


def activity(ev: ThreadEvidence, now: datetime) -> datetime:
    """When the message happened for the subject window: its Date, never later than now."""
    return min(ev.date, now) if ev.date is not None else now


def subject_may_join(ev: ThreadEvidence, *, last_activity: datetime, now: datetime,
                     window: timedelta = SUBJECT_WINDOW) -> bool:
    """The subject fall-back rule, used only when no header evidence matched.

    A message with no References/In-Reply-To at all (QQ Mail, some web mailers) joins a live
    thread with the identical subject key only when it is a reply (prefix or Thread-Index) and
    that thread saw activity within ``window`` before it: a fresh "周报" every week starts a
    new thread; "回复：周报" three days later joins it.
    """
    return (subject_candidate(ev)
            and last_activity >= activity(ev, now) - window)


def subject_candidate(ev: ThreadEvidence) -> bool:
    """Whether the subject fall-back may look for a thread for this message at all."""
    return not ev.references and ev.is_reply and bool(ev.subject_key)


@dataclass(slots=True)
class Container:
    """A JWZ container: a Message-ID we stored (``seen``) or only saw referenced (a phantom)."""

    thread: int
    parent: str | None
    seen: bool


class Threader:
    """The in-memory incremental threader: the SQL adapter's twin, for tests and benchmarks."""

    def __init__(self, *, window: timedelta = SUBJECT_WINDOW) -> None:
        self.window = window
        self.refs: dict[str, Container] = {}
        self._merged: dict[int, int] = {}  # absorbed → keep (union-find with path halving)
        self._subjects: dict[str, list[int]] = {}
        self._last: dict[int, datetime] = {}
        self._next = 1

    def find(self, thread: int) -> int:
        while thread in self._merged:
            parent = self._merged[thread]
            self._merged[thread] = self._merged.get(parent, parent)
            thread = parent
        return thread

    def thread_of(self, message_id: str) -> int | None:
        ref = self.refs.get(normalize_message_id(message_id))
        return self.find(ref.thread) if ref is not None else None

    def add(self, ev: ThreadEvidence, *, now: datetime,
            record_thread: Callable[[int], int | None] | None = None) -> ThreadAssignment:
        chain = links(ev)
        refs = self.refs
        hits = {ref.thread for mid, _, _ in chain if (ref := refs.get(mid)) is not None}
        found = {self.find(thread) for thread in hits}
        via: Via = "references"
        pseudo = ev.thread_index_ref
        if not found and pseudo and pseudo in self.refs:
            found, via = {self.find(self.refs[pseudo].thread)}, "thread-index"
        if not found and ev.record_code is not None and record_thread is not None:
            target = record_thread(ev.record_code)
            if target is not None:
                found, via = {self.find(target)}, "record-code"
        if not found:
            live = [t for t in self._subjects.get(ev.subject_key, []) if t not in self._merged]
            best = max(live, key=lambda t: (self._last[t], t), default=None)  # newest
            if best is not None and subject_may_join(ev, last_activity=self._last[best],
                                                     now=now, window=self.window):
                found, via = {best}, "subject"
        created = not found
        if created:
            found, via = {self._next}, "new"
            self._subjects.setdefault(ev.subject_key, []).append(self._next)
            self._last[self._next] = activity(ev, now)
            self._next += 1
        keep = min(found)
        merged = sorted(found - {keep})
        for absorbed in merged:
            self._merged[absorbed] = keep
            self._last[keep] = max(self._last[keep], self._last.pop(absorbed))
        self._last[keep] = max(self._last[keep], activity(ev, now))
        for mid, parent, seen in chain:
            ref = self.refs.get(mid)
            if ref is None:
                self.refs[mid] = Container(keep, parent, seen)
            elif seen:  # JWZ 1C: the message's own References name its parent
                ref.parent, ref.seen = parent, True
            elif ref.parent is None:  # JWZ 1B: link a phantom only if it has no parent yet
                ref.parent = parent
        if pseudo and pseudo not in self.refs:
            self.refs[pseudo] = Container(keep, None, False)
        return ThreadAssignment(keep, merged, created, via)

    def groups(self) -> dict[int, list[str]]:
        """Seen (stored) messages per live thread; phantoms and pseudo refs are left out."""
        out: dict[int, list[str]] = {}
        for mid, ref in self.refs.items():
            if ref.seen:
                out.setdefault(self.find(ref.thread), []).append(mid)
        return out
