"""participations: one per student per department of a project (was: per project)

A student may take part in several departments of one project, each with its
own forecast (services/students/rules.py: forecast_errors). Existing data
fits the new constraint as it is.

Revision ID: 0003
Revises: 0002
Create Date: 2025-12-01
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0003'
down_revision: Union[str, None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('participations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_participations_project_id_student_id'),
                                 type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_participations_project_id_student_id_department_id'),
            ['project_id', 'student_id', 'department_id'])


def downgrade() -> None:
    # Going back needs one participation per student per project: refuse when
    # a student has several (remove them first) rather than dropping data.
    bind = op.get_bind()
    several = bind.execute(sa.text(
        "SELECT count(*) FROM (SELECT project_id, student_id FROM participations "
        "GROUP BY project_id, student_id HAVING count(*) > 1) AS several")).scalar()
    if several:
        raise RuntimeError(f"{several} student(s) have more than one participation in a "
                           "project; remove those first to downgrade below 0003")
    with op.batch_alter_table('participations', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('uq_participations_project_id_student_id_department_id'),
            type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_participations_project_id_student_id'),
                                          ['project_id', 'student_id'])
