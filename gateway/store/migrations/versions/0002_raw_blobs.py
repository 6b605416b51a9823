"""raw blobs: small messages' bytes inline (gateway/store/raw.py)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = '0002', '0001'
branch_labels = depends_on = None


def upgrade() -> None:
    op.create_table('raw_blobs',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_raw_blobs'))
    )


def downgrade() -> None:
    op.drop_table('raw_blobs')
