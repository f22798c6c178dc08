"""incremental status: differences per student, students to read again

Stored statuses are dropped (computed again, with their rows, on the next
status).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'student_differences',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('institution_id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('student_number', sa.String(length=50), nullable=False),
        sa.Column('flags', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_student_differences')),
        sa.UniqueConstraint('institution_id', 'project_id', 'student_number',
                            name=op.f('uq_student_differences_institution_id_project_id_'
                                      'student_number')),
    )
    op.create_table(
        'stale_students',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('institution_id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('student_number', sa.String(length=50), nullable=True),
        sa.Column('marked_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stale_students')),
    )
    with op.batch_alter_table('stale_students', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stale_students_institution_id_project_id'),
                              ['institution_id', 'project_id'], unique=False)
    op.execute("UPDATE snapshots SET status = NULL, status_of = NULL")


def downgrade() -> None:
    with op.batch_alter_table('stale_students', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stale_students_institution_id_project_id'))
    op.drop_table('stale_students')
    op.drop_table('student_differences')
