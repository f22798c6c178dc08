"""participations: its three foreign keys DEFERRABLE INITIALLY IMMEDIATE

Checked per row as before, unless a transaction defers them: a list load
does (handlers/create_many.py), so PostgreSQL checks them at commit, which
does not hold the students process, instead of during the COPY, which does.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0007'
down_revision: Union[str, None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# (name, column, referred table, ondelete) as models.Participation has them
KEYS = (
    ('fk_participations_project_id_projects', 'project_id', 'projects', 'CASCADE'),
    ('fk_participations_student_id_students', 'student_id', 'students', None),
    ('fk_participations_department_id_departments', 'department_id', 'departments', None),
)


def _keys(deferrable: bool) -> None:
    if op.get_bind().dialect.name == 'postgresql':
        mode = 'DEFERRABLE INITIALLY IMMEDIATE' if deferrable else 'NOT DEFERRABLE'
        for name, _column, _table, _ondelete in KEYS:
            op.execute(f'ALTER TABLE participations ALTER CONSTRAINT {name} {mode}')
        return
    # SQLite keeps a key in the table's definition: the table is made again
    # (nothing refers to participations, so nothing else is touched)
    with op.batch_alter_table('participations', recreate='always') as batch_op:
        for name, column, table, ondelete in KEYS:
            batch_op.drop_constraint(name, type_='foreignkey')
            batch_op.create_foreign_key(
                name, table, [column], ['id'], ondelete=ondelete,
                deferrable=True if deferrable else None,
                initially='IMMEDIATE' if deferrable else None)


def upgrade() -> None:
    _keys(deferrable=True)


def downgrade() -> None:
    _keys(deferrable=False)
