"""users.search_text: case- and accent-insensitive search, back-filled

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

The back-fill uses the service's own rules.search_text, so a database migrated
later gets the folding the code of that day expects. A change to
rules.search_key needs a new migration that runs `backfill` again.
"""
from alembic import op
import sqlalchemy as sa

from services.users.search import search_text

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

CHUNK = 1000


def backfill(connection):
    """Write rules.search_text of every user, CHUNK users at a time."""
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('code', sa.String),
                     sa.column('first_name', sa.String), sa.column('prefix', sa.String),
                     sa.column('last_name', sa.String), sa.column('email', sa.String),
                     sa.column('search_text', sa.Text))
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(users.c.id, users.c.code, users.c.first_name, users.c.prefix,
                      users.c.last_name, users.c.email)
            .where(users.c.id > last_id).order_by(users.c.id).limit(CHUNK)).mappings().all()
        if not rows:
            return
        connection.execute(
            sa.update(users).where(users.c.id == sa.bindparam('user_id'))
            .values(search_text=sa.bindparam('text')),
            [{'user_id': row['id'], 'text': search_text(row)} for row in rows])
        last_id = rows[-1]['id']


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_text', sa.Text(), nullable=True))
    backfill(op.get_bind())
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('search_text', existing_type=sa.Text(), nullable=False)


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('search_text')
