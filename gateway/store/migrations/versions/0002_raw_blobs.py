"""raw blobs: small messages' bytes inline (gateway/store/raw.py)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 01:55:44.474823
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('raw_blobs',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_raw_blobs'))
    )


def downgrade() -> None:
    op.drop_table('raw_blobs')
