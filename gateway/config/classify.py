"""The classification rules as data: the ``[classification]`` section of a project file.

Rules are data, not code. The company-wide defaults live in ``gateway/rules/default.toml`` and
use this same schema; a project's ``[classification]`` section adds its own markers, keywords and
words to them (lists are appended) and may override the scalar settings. Example::

    [classification]
    receipt_categories = ["directive", "decision", "meeting_minutes", "change_notice"]
    incident_reply_minutes = 30

    [[classification.markers]]
    tag = "割接"                      # matches 【割接】, [割接], 〔割接〕 in the subject
    category = "change_notice"

    [[classification.keywords]]
    category = "incident"
    pattern = "核心交换机.{0,6}(宕机|掉线)"
    regex = true
    weight = 3.0

Every model is frozen and uses tuples, so a whole configuration is hashable and the compiled
rules can be cached per configuration (see :mod:`gateway.classify.rules`).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Category = Literal[
    "directive", "decision", "change_notice", "risk", "incident", "meeting_minutes", "report",
    "work_contact", "inquiry", "general",
]
Urgency = Literal["normal", "urgent"]
FormalityName = Literal["formal_written", "written", "formal_oral", "informal_oral"]
GroupName = Literal["customer", "leadership", "internal", "procurement", "quality", "hr", "other"]
Where = Literal["any", "subject", "head", "body", "attachments"]

CATEGORIES: tuple[Category, ...] = (
    "directive", "decision", "change_notice", "risk", "incident", "meeting_minutes", "report",
    "work_contact", "inquiry", "general",
)
DEFAULT_RECEIPT_CATEGORIES: tuple[Category, ...] = (
    "directive", "decision", "meeting_minutes", "change_notice", "work_contact",
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    return pattern


class Marker(_Model):
    """An explicit subject tag such as ``【指令】`` or ``[Directive]``.

    ``tag`` is written with or without its brackets; it matches inside 【】, [], 〔〕, ［］ or
    〖〗 in the subject, case-insensitively. A marker sets any of category, urgency, formality
    and receipt; a marker that sets only urgency (``【紧急】``) leaves the category to the rules.
    """

    tag: str = Field(min_length=1)
    category: Category | None = None
    urgency: Urgency | None = None
    formality: FormalityName | None = None
    receipt: bool | None = None

    @field_validator("tag")
    @classmethod
    def _strip_brackets(cls, value: str) -> str:
        inner = value.strip().strip("【】[]〔〕［］〖〗").strip()
        if not inner:
            raise ValueError("empty tag")
        return inner

    @model_validator(mode="after")
    def _sets_something(self) -> Marker:
        if (self.category, self.urgency, self.formality, self.receipt) == (None,) * 4:
            raise ValueError(f"marker {self.tag!r} sets nothing: give category, urgency, "
                             "formality or receipt")
        return self


class KeywordRule(_Model):
    """Words (or a regular expression) that add ``weight`` to a category when they occur.

    ``where`` limits the rule to the subject, the subject's head noun (``head``: the pattern
    ends a part of the subject, "…的决定", "Monthly SLA Report - May", "Invitation: …"), the
    sender's own body text or attachment names;
    ``groups`` limits it to records whose stakeholder group is one of those listed (e.g. a
    schedule slip counts as a change notice only when a customer is a party). A rule counts once
    per message; a match in the subject is multiplied by ``subject_factor``. A plain word
    preceded in its clause by a negation (``未发现故障``, ``not urgent``) does not count unless
    ``negatable = false``. Where a cue stands weighs it: the subject counts ``subject_factor``
    times, the first line of the body once, the rest of the body ``body_factor`` times, and a
    cue in a hypothetical clause (如果…, if …) ``hypothetical_factor`` times (except for risk,
    which is about what may happen). A rule that ``names_document`` counts in the subject only
    where it ends a part of it (elsewhere the subject mentions the document). Quoted words
    (“…”, 「…」), document names in 《…》 and quantities with units ("40 minutes", "40分钟")
    are not read at all.
    """

    category: Category
    pattern: str = Field(min_length=1)
    weight: float = 1.0
    regex: bool = False
    where: Where = "any"
    groups: tuple[GroupName, ...] = ()
    negatable: bool = True
    name: str = ""
    # the pattern names a document (周报, 会议纪要, 联系单): in the subject it says what the mail
    # is only as the head noun; "关于本月巡检报告提交时间" mentions it (weighs body_factor)
    names_document: bool = False

    @model_validator(mode="after")
    def _valid_regex(self) -> KeywordRule:
        if self.regex:
            _check_regex(self.pattern)
        return self


class ClassificationConfig(_Model):
    """Classification rules and settings; in a project file, added to the company defaults."""

    # --- settings (a project's value replaces the default) --------------------------------
    category_header: str = "X-Commgate-Category"
    receipt_categories: tuple[Category, ...] = DEFAULT_RECEIPT_CATEGORIES
    urgent_categories: tuple[Category, ...] = ()
    formal_categories: tuple[Category, ...] = (
        "meeting_minutes", "report", "change_notice", "work_contact",
    )
    min_score: float = Field(default=2.0, gt=0)
    subject_factor: float = Field(default=1.5, ge=1)
    body_factor: float = Field(default=0.7, gt=0, le=1)
    hypothetical_factor: float = Field(default=0.3, ge=0, le=1)
    incident_reply_minutes: int = Field(default=60, gt=0)
    confirmation_grace_hours: int = Field(default=48, gt=0)
    use_default_rules: bool = True
    disabled_rules: tuple[str, ...] = ()

    # --- rules (a project's entries are appended to the defaults) --------------------------
    markers: tuple[Marker, ...] = ()
    keywords: tuple[KeywordRule, ...] = ()
    urgent_words: tuple[str, ...] = ()
    urgent_subject_words: tuple[str, ...] = ()  # only in the subject ("P1" in a table is not)
    hypothetical_words: tuple[str, ...] = ()  # regular expressions: 如果, 假如, \bif\b …
    receipt_words: tuple[str, ...] = ()
    formal_attachment_words: tuple[str, ...] = ()
    reason_words: tuple[str, ...] = ()
    impact_words: tuple[str, ...] = ()
    confirmation_words: tuple[str, ...] = ()
    negations: tuple[str, ...] = ()
    # regular expressions: fixed expressions whose words are no cue (紧急联系人 is a contact,
    # not urgency); they are blanked before any rule reads the text
    not_cues: tuple[str, ...] = ()

    @field_validator("negations", "hypothetical_words", "not_cues")
    @classmethod
    def _valid_negations(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            _check_regex(pattern)
        return value


class LearningConfig(_Model):
    """The ``[classify]`` section of a project file: learning from corrections.

    ``learn = false`` switches the model off for the project (the rules alone decide). The model
    is asked only when it has at least ``min_corrections`` examples, to break a tie (categories
    scoring within ``tie_margin`` of the best) or to rescue a decision scoring below
    ``low_score`` when it is at least ``confidence`` sure (see gateway/classify/learn.py).
    """

    learn: bool = True
    min_corrections: int = Field(default=5, ge=1)
    tie_margin: float = Field(default=1.0, ge=0)
    low_score: float = Field(default=3.0, ge=0)
    confidence: float = Field(default=0.6, gt=0, le=1)
