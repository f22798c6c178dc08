"""leave date: the day a student leaves (planned when in the future); archive_pending

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('students', schema=None) as batch_op:
        batch_op.add_column(sa.Column('leave_date', sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f('ix_students_leave_date'), ['leave_date'], unique=False)
        batch_op.add_column(sa.Column('archive_pending', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    # students who left before the date was kept: the day they were marked as left
    op.execute("UPDATE students SET leave_date = DATE(left_at) WHERE left_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('students', schema=None) as batch_op:
        batch_op.drop_column('archive_pending')
        batch_op.drop_index(batch_op.f('ix_students_leave_date'))
        batch_op.drop_column('leave_date')
