"""The ``classify`` stage, after ``thread``: category, stakeholder group, formality, urgency and
whether receipts are required (policy 3, 4.1 table 4-1, 4.3).

The pure part is :func:`gateway.classify.message.classify` over the message's facts, helped by
the model the project learned from people's corrections (gateway/records/corrections.py) where
the rules are unsure. The read-only phase before the write transaction usually classified the
message already (:func:`classify_parsed`, called by gateway/pipeline/__init__.py); a replay
classifies it here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.app import App
from gateway.classify.message import Classification, classify, facts_from_parsed
from gateway.config.settings import ProjectConfig
from gateway.parse import ParsedMessage
from gateway.records.corrections import model_for

if TYPE_CHECKING:  # the pipeline imports the stages; the stages only name its Context
    from gateway.pipeline.context import Context


def classify_parsed(app: App, project: ProjectConfig, parsed: ParsedMessage) -> Classification:
    """Classify a parsed message for ``project`` with its learned model (if any)."""
    model = model_for(app.settings.data_dir, project)
    return classify(facts_from_parsed(parsed), project, model=model)


def run(ctx: Context) -> None:
    """Classify, unless the read-only phase did."""
    if ctx.classification is None:  # not classified before the transaction (a replay)
        ctx.classification = classify_parsed(ctx.app, ctx.project, ctx.parsed_message())
