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
    # plain ADD COLUMN (no batch table copy): SQLite would have to drop a table
    # that participations and group_members refer to
    op.add_column('students', sa.Column('leave_date', sa.Date(), nullable=True))
    op.create_index(op.f('ix_students_leave_date'), 'students', ['leave_date'], unique=False)
    op.add_column('students', sa.Column('archive_pending', sa.Boolean(), nullable=False,
                                        server_default=sa.false()))
    # students who left before the date was kept: the day they were marked as left
    op.execute("UPDATE students SET leave_date = DATE(left_at) WHERE left_at IS NOT NULL")


def downgrade() -> None:
    op.drop_index(op.f('ix_students_leave_date'), table_name='students')
    # DROP COLUMN in place (SQLite 3.35+ has it): no table copy, as above
    for column in ('archive_pending', 'leave_date'):
        op.execute(f"ALTER TABLE students DROP COLUMN {column}")
