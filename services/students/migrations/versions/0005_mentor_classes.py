"""mentor_classes: the home classes a mentor looks after

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'mentor_classes',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('institution_id', sa.Integer(), nullable=False),
        sa.Column('mentor_code', sa.String(length=50), nullable=False),
        sa.Column('home_class', sa.String(length=50), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mentor_classes')),
        sa.UniqueConstraint('institution_id', 'mentor_code', 'home_class',
                            name=op.f('uq_mentor_classes_institution_id_mentor_code_home_class')),
    )
    op.create_index(op.f('ix_mentor_classes_institution_id_home_class'), 'mentor_classes',
                    ['institution_id', 'home_class'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_mentor_classes_institution_id_home_class'),
                  table_name='mentor_classes')
    op.drop_table('mentor_classes')
