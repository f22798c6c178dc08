"""import_previews, import_undo_parts: an import's large data out of its row

The stored preview (every row of the file: megabytes for a large one) was a
column of imports, so every progress save of a background commit, and its
heartbeat, rewrote it on SQLite, which rewrites a whole row on any update. It
is written once per preview, so it moves to a row of its own, in its parts
(counts, plan, fingerprints, rows): upgrade moves the stored previews there,
downgrade moves them back.

import_undo_parts keeps what undo needs of each chunk of a background commit
in progress (a row per chunk, gathered into imports.undo when it ends), so a
progress save no longer writes the undo data of every chunk before it again.
Downgrade gathers the parts of a commit still running into imports.undo.

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

PARTS = ('counts', 'plan', 'fingerprints', 'rows')

# the tables as this migration sees them (not the models, which move on)
imports = sa.table('imports', sa.column('id', sa.Integer()), sa.column('kind', sa.String()),
                   sa.column('preview', sa.JSON()), sa.column('undo', sa.JSON()))
import_previews = sa.table('import_previews', sa.column('import_id', sa.Integer()),
                           *(sa.column(part, sa.JSON()) for part in PARTS))
import_undo_parts = sa.table('import_undo_parts', sa.column('import_id', sa.Integer()),
                             sa.column('part', sa.Integer()), sa.column('data', sa.JSON()))


def upgrade() -> None:
    op.create_table('import_previews',
    sa.Column('import_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('plan', sa.JSON(), nullable=False),
    sa.Column('fingerprints', sa.JSON(), nullable=False),
    sa.Column('rows', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('import_id', name=op.f('pk_import_previews'))
    )
    op.create_table('import_undo_parts',
    sa.Column('import_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('part', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('import_id', 'part', name=op.f('pk_import_undo_parts'))
    )
    conn = op.get_bind()
    ids = conn.execute(sa.select(imports.c.id).where(imports.c.preview.isnot(None))
                       .order_by(imports.c.id)).scalars().all()
    # one import at a time: a preview can be tens of megabytes
    for import_id in ids:
        preview = conn.execute(sa.select(imports.c.preview)
                               .where(imports.c.id == import_id)).scalar()
        if not isinstance(preview, dict) or not preview.get('counts'):
            continue  # a JSON null or an empty preview: none, as before
        conn.execute(sa.insert(import_previews).values(
            import_id=import_id, counts=preview['counts'], plan=preview.get('plan') or {},
            fingerprints=preview.get('fingerprints') or {}, rows=preview.get('rows') or []))
    with op.batch_alter_table('imports', schema=None) as batch_op:
        batch_op.drop_column('preview')


def _gathered(kind, undo, parts):
    """imports.undo with the parts added (dicts merged, lists extended), as
    imports/records.py gathered_undo does."""
    gathered = {'created': {}, 'updated': {}, 'archived': {}} if kind == 'users' \
        else {'participations': []}
    for data in (undo or {}, *parts):
        for key, value in data.items():
            if isinstance(value, dict):
                gathered.setdefault(key, {}).update(value)
            else:
                gathered.setdefault(key, []).extend(value)
    return gathered


def downgrade() -> None:
    with op.batch_alter_table('imports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('preview', sa.JSON(), nullable=True))
    conn = op.get_bind()
    stored = conn.execute(sa.select(import_previews.c.import_id)
                          .order_by(import_previews.c.import_id)).scalars().all()
    for import_id in stored:
        parts = conn.execute(sa.select(*(import_previews.c[part] for part in PARTS))
                             .where(import_previews.c.import_id == import_id)).one()
        conn.execute(sa.update(imports).where(imports.c.id == import_id)
                     .values(preview=dict(zip(PARTS, parts, strict=True))))
    running = conn.execute(sa.select(import_undo_parts.c.import_id).distinct()
                           .order_by(import_undo_parts.c.import_id)).scalars().all()
    for import_id in running:
        parts = conn.execute(sa.select(import_undo_parts.c.data)
                             .where(import_undo_parts.c.import_id == import_id)
                             .order_by(import_undo_parts.c.part)).scalars().all()
        kind, undo = conn.execute(sa.select(imports.c.kind, imports.c.undo)
                                  .where(imports.c.id == import_id)).one()
        conn.execute(sa.update(imports).where(imports.c.id == import_id)
                     .values(undo=_gathered(kind, undo, parts)))
    op.drop_table('import_undo_parts')
    op.drop_table('import_previews')
