"""Chinese and English labels for the domain words (DESIGN.md §3), shared by the archive's
pages and the business-process messages, so one record reads the same in every channel
(policy 1.3: accurate and consistent across channels)."""

from __future__ import annotations

import tomllib
from pathlib import Path

_FILE = Path(__file__).resolve().parents[1] / "rules" / "labels.toml"

Words = dict[str, tuple[str, str]]
"""One vocabulary: key → (zh-CN, English heading)."""


def _load() -> dict[str, dict[str, tuple[str, ...]]]:
    with _FILE.open("rb") as fh:
        data = tomllib.load(fh)
    return {section: {key: tuple(words) for key, words in table.items()}
            for section, table in data.items()}


_VOCABULARIES = _load()


def _words(section: str) -> Words:
    return {key: (words[0], words[1]) for key, words in _VOCABULARIES[section].items()}


CATEGORY = _words("category")
GROUP = _words("group")
FORMALITY = _words("formality")
RECEIPT = _words("receipt")
URGENCY = _words("urgency")
MAIL_KIND = _words("mail_kind")  # what a mail the gateway sent is (outbox ``kind``)
MAIL_STATE = _words("mail_state")
# The order in which a bare key is looked up by the templates' label filters.
ALL = (CATEGORY, GROUP, FORMALITY, RECEIPT, URGENCY, MAIL_KIND, MAIL_STATE,
       *(_words(section) for section in ("field", "role", "frequency", "channel", "party",
                                         "boolean")))

# The policy attachments' sections, in running text (gateway/records/forms.py).
_PROSE_SECTIONS = ("category", "group", "formality", "urgency", "receipt", "field", "role",
                   "frequency", "channel", "party", "boolean")


def prose_words() -> dict[str, dict[str, str]]:
    """``{"zh-CN": {key: word}, "en": {key: word in a sentence}}`` of the attachments' words."""
    zh: dict[str, str] = {}
    en: dict[str, str] = {}
    for section in _PROSE_SECTIONS:
        for key, words in _VOCABULARIES[section].items():
            zh.setdefault(key, words[0])
            en.setdefault(key, words[2] if len(words) > 2 else words[1][:1].lower() + words[1][1:])
    return {"zh-CN": zh, "en": en}


def any_label(key: str | None, language: str = "zh-CN") -> str:
    """The label of a domain word from whichever table knows it; the key itself otherwise."""
    for table in ALL:
        if key in table:
            return label(table, key, language)
    return "" if key is None else key


def label(table: dict[str, tuple[str, str]], key: str | None, language: str = "zh-CN") -> str:
    """The label of ``key`` in ``language``; the key itself when unknown."""
    if key is None:
        return ""
    pair = table.get(key)
    if pair is None:
        return key
    return pair[0] if language.startswith("zh") else pair[1]
