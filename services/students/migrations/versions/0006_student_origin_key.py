"""students.origin_key: the operation that created a record (replays, honest counts)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0006'
down_revision: Union[str, None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # plain ADD COLUMN (no batch table copy): SQLite would have to drop a table
    # that participations and group_members refer to
    op.add_column('students', sa.Column('origin_key', sa.String(length=80), nullable=True))
    op.create_index(op.f('ix_students_institution_id_origin_key'), 'students',
                    ['institution_id', 'origin_key'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_students_institution_id_origin_key'), table_name='students')
    op.execute("ALTER TABLE students DROP COLUMN origin_key")
