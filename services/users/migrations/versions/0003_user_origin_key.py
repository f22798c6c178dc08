"""users.origin_key: the operation that created an account (resumable creates)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    # a nullable column: plain ADD COLUMN, no table copy
    op.add_column('users', sa.Column('origin_key', sa.String(length=80), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('origin_key')
