"""stored snapshots: participations and packages per student per department

The internal shape of a stored desktop snapshot (services/sync/rules.py) keyed
participations and packages by student number; a student may now take part in
several departments of a project, so they are keyed by student number, then
department. Stored snapshots are rewritten; the stored portal reads are
dropped (they are read again on the next status, differences or download) and
with them the status kept for a snapshot. No table changes.

Revision ID: 0003
Revises: 0002
Create Date: 2025-12-01
"""
import json
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0003'
down_revision: Union[str, None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

NO_DEPARTMENT = ""

snapshots = sa.table("snapshots", sa.column("id", sa.Integer), sa.column("data", sa.Text),
                     sa.column("status", sa.Text), sa.column("status_of", sa.String))
portal_reads = sa.table("portal_reads", sa.column("id", sa.Integer))


def _dumps(data):
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _is_old(data):
    """Old shape: a participation (a dict with "forecast") or a package (a dict
    with "subjects") right under the student number."""
    parts = data.get("participations") or {}
    packages = data.get("packages") or {}
    return any(isinstance(v, dict) and "forecast" in v for v in parts.values()) \
        or any(isinstance(v, dict) and "subjects" in v for v in packages.values())


def to_new(data):
    parts = data.get("participations") or {}
    data["participations"] = {number: {part["department"]: part}
                              for number, part in parts.items() if part.get("department")}
    packages = {}
    for number, package in (data.get("packages") or {}).items():
        department = package.get("department")
        if department is None:
            department = next(iter(data["participations"].get(number) or {}), NO_DEPARTMENT)
            package["department"] = department or None
        packages[number] = {department: package}
    data["packages"] = packages
    return data


def to_old(data):
    """Back to one participation per student (the first department by code)."""
    parts = data.get("participations") or {}
    data["participations"] = {number: own[min(own)] for number, own in parts.items() if own}
    packages = {}
    for number, own in (data.get("packages") or {}).items():
        if not own:
            continue
        department = data["participations"].get(number, {}).get("department")
        packages[number] = own.get(department) or own[min(own)]
    data["packages"] = packages
    return data


def _rewrite(convert, old_shape):
    bind = op.get_bind()
    for row_id, text in bind.execute(sa.select(snapshots.c.id, snapshots.c.data)).all():
        data = json.loads(text)
        if _is_old(data) != old_shape:
            continue
        bind.execute(snapshots.update().where(snapshots.c.id == row_id).values(
            data=_dumps(convert(data)), status=None, status_of=None))
    bind.execute(portal_reads.delete())


def upgrade() -> None:
    _rewrite(to_new, old_shape=True)


def downgrade() -> None:
    _rewrite(to_old, old_shape=False)
