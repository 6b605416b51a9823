"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
"""

import sqlalchemy as sa
from alembic import op

import gateway.store.models
${imports if imports else ""}

revision, down_revision = ${repr(up_revision)}, ${repr(down_revision)}
branch_labels, depends_on = ${repr(branch_labels)}, ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
