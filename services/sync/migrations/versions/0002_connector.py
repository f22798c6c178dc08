"""connector: snapshots, portal reads, mutation feed

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-25
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0002'
down_revision: Union[str, None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('mutations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event_type', sa.String(length=80), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('student_number', sa.String(length=50), nullable=True),
    sa.Column('department', sa.String(length=20), nullable=True),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mutations'))
    )
    with op.batch_alter_table('mutations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mutations_institution_id_recorded_at'), ['institution_id', 'recorded_at'], unique=False)

    op.create_table('portal_reads',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_reads')),
    sa.UniqueConstraint('institution_id', 'project_id', name=op.f('uq_portal_reads_institution_id_project_id'))
    )
    op.create_table('snapshots',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('student_count', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status_of', sa.String(length=40), nullable=True),
    sa.Column('status', sa.Text(), nullable=True),
    sa.Column('data', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_snapshots')),
    sa.UniqueConstraint('institution_id', 'project_id', name=op.f('uq_snapshots_institution_id_project_id'))
    )


def downgrade() -> None:
    op.drop_table('snapshots')
    op.drop_table('portal_reads')
    with op.batch_alter_table('mutations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mutations_institution_id_recorded_at'))

    op.drop_table('mutations')
