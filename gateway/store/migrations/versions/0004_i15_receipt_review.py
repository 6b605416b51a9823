"""receipts: needs_review, request rounds (reopen), withdrawal and the directive's own deadline

Issue 15: the latest answer decides. A request closed because everyone confirmed is reopened on
a later question or refusal and walks the ladder again: its steps are keyed by round too.

Revision ID: 0003_i15
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = '0004_i15', '0003_i17'
branch_labels = depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('needs_review', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('receipt_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('round', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('directive_due', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('withdrawn_at', sa.DateTime(timezone=True),
                                      nullable=True))
    with op.batch_alter_table('escalation_steps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('round', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.drop_constraint('uq_escalation_steps_level', type_='unique')
        batch_op.create_unique_constraint('uq_escalation_steps_level',
                                          ['message_pk', 'round', 'level', 'repeat'])


def downgrade() -> None:
    with op.batch_alter_table('escalation_steps', schema=None) as batch_op:
        batch_op.drop_constraint('uq_escalation_steps_level', type_='unique')
        batch_op.create_unique_constraint('uq_escalation_steps_level',
                                          ['message_pk', 'level', 'repeat'])
        batch_op.drop_column('round')
    with op.batch_alter_table('receipt_requests', schema=None) as batch_op:
        batch_op.drop_column('withdrawn_at')
        batch_op.drop_column('directive_due')
        batch_op.drop_column('round')
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.drop_column('needs_review')
