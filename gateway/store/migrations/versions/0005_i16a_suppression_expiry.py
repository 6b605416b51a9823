"""suppressions: an expiry (issue 16, a forged auto-reply silences nobody for good)

Suppressions written before this revision were permanent; they now expire seven days after they
were made (the default ``[outbound] suppression_days``).

Revision ID: 0005_i16a
Revises: 0004_i15
"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision, down_revision = '0005_i16a', '0004_i15'
branch_labels = depends_on = None

_table = sa.table('suppressions', sa.column('id', sa.BigInteger()),
                  sa.column('created_at', sa.DateTime(timezone=True)),
                  sa.column('expires_at', sa.DateTime(timezone=True)))


def upgrade() -> None:
    with op.batch_alter_table('suppressions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.select(_table.c.id, _table.c.created_at)).all()
    for row_id, created in rows:
        bind.execute(sa.update(_table).where(_table.c.id == row_id)
                     .values(expires_at=created + timedelta(days=7)))


def downgrade() -> None:
    with op.batch_alter_table('suppressions', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
