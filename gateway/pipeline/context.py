"""What the stages share while one message goes through the pipeline: a typed :class:`Context`.

The driver (gateway/pipeline/__init__.py) builds one per message inside its write transaction;
each stage adapter (gateway/stages/) reads the fields the earlier stages filled and writes its
own, in the order of ``STAGES``:

=================  ===============================  ==========================================
field              filled by                        type
=================  ===============================  ==========================================
``parsed``         parse (or the read-only phase)   :class:`gateway.parse.ParsedMessage`
``full_own_text``  parse                            the whole own text when ``parsed`` is cut
``thread_id``      thread                           the thread row's id
``merged_threads`` thread                           threads References proved to be this one
``classification`` classify (or the read-only       :class:`gateway.classify.model.Classification`
                   phase)
``record``         record                           :class:`gateway.store.models.Record`
``auth``           receipts or notify, whichever    :class:`gateway.receipts.auth.AuthVerdict`
                   asks first
``stage``          the driver                       the name of the stage running now
=================  ===============================  ==========================================

Domain modules never see a Context: the adapters unpack it and pass the plain values on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from gateway.app import App
from gateway.classify.model import Classification
from gateway.config.settings import ProjectConfig
from gateway.errors import Quarantine
from gateway.parse import ParsedMessage
from gateway.receipts.auth import AuthVerdict
from gateway.store.models import Message, Record


@dataclass
class Context:
    """One message's way through the stages (see the module docstring for who fills what)."""

    app: App
    session: Session
    message: Message
    project: ProjectConfig
    raw: bytes
    parsed: ParsedMessage | None = None
    thread_id: int | None = None
    merged_threads: list[int] = field(default_factory=list)
    classification: Classification | None = None
    record: Record | None = None
    auth: AuthVerdict | None = None
    # Set by the read-only phase before the write transaction (see gateway.pipeline.process):
    # the parse stage's refusal, raised again by that stage so the flow is the same.
    refused: Quarantine | None = None
    full_own_text: str | None = None  # the whole own text, when ``parsed`` holds a prefix
    stage: str | None = None  # the stage running now (None after the last): errors name it

    def parsed_message(self) -> ParsedMessage:
        """The parse stage's result; every stage after ``parse`` may rely on it."""
        assert self.parsed is not None, "the parse stage runs before this one"
        return self.parsed

    def classified(self) -> Classification:
        """The classify stage's result; every stage after ``classify`` may rely on it."""
        assert self.classification is not None, "the classify stage runs before this one"
        return self.classification
