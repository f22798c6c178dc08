"""student records, projects, departments, participations, groups, BSN audit

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
    op.create_table('bsn_audit',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=True),
    sa.Column('student_number', sa.String(length=20), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('fields', sa.String(length=40), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('actor_code', sa.String(length=50), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bsn_audit'))
    )
    with op.batch_alter_table('bsn_audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bsn_audit_institution_id_student_number'), ['institution_id', 'student_number'], unique=False)

    op.create_table('projects',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('school_year', sa.String(length=9), nullable=False),
    sa.Column('branch', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects')),
    sa.UniqueConstraint('institution_id', 'school_year', 'branch', name=op.f('uq_projects_institution_id_school_year_branch'))
    )
    op.create_table('students',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('student_number', sa.String(length=20), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('bsn', sa.String(length=9), nullable=True),
    sa.Column('onderwijsnummer', sa.String(length=9), nullable=True),
    sa.Column('date_of_birth', sa.Date(), nullable=True),
    sa.Column('year_of_education', sa.Integer(), nullable=True),
    sa.Column('track', sa.String(length=50), nullable=True),
    sa.Column('home_class', sa.String(length=50), nullable=True),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_students')),
    sa.UniqueConstraint('institution_id', 'bsn', name=op.f('uq_students_institution_id_bsn')),
    sa.UniqueConstraint('institution_id', 'student_number', name=op.f('uq_students_institution_id_student_number'))
    )
    with op.batch_alter_table('students', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_students_institution_id_onderwijsnummer'), ['institution_id', 'onderwijsnummer'], unique=False)

    op.create_table('departments',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('year_of_education', sa.Integer(), nullable=True),
    sa.Column('education', sa.String(length=50), nullable=True),
    sa.Column('home_class_authority', sa.String(length=10), nullable=False),
    sa.Column('learning_paths', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_departments_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_departments')),
    sa.UniqueConstraint('project_id', 'code', name=op.f('uq_departments_project_id_code'))
    )
    op.create_table('groups',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=50), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('subject', sa.String(length=20), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_groups_department_id_departments')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_groups_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_groups')),
    sa.UniqueConstraint('project_id', 'code', name=op.f('uq_groups_project_id_code'))
    )
    op.create_table('participations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('forecast', sa.Integer(), nullable=True),
    sa.Column('profile', sa.String(length=50), nullable=True),
    sa.Column('programme', sa.String(length=100), nullable=True),
    sa.Column('learning_path', sa.String(length=50), nullable=True),
    sa.Column('home_class', sa.String(length=50), nullable=True),
    sa.Column('lwoo', sa.Boolean(), nullable=False),
    sa.Column('subjects', sa.JSON(), nullable=False),
    sa.Column('exemptions', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_participations_department_id_departments')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_participations_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_participations_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participations')),
    sa.UniqueConstraint('project_id', 'student_id', name=op.f('uq_participations_project_id_student_id'))
    )
    with op.batch_alter_table('participations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_participations_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_participations_student_id'), ['student_id'], unique=False)

    op.create_table('group_members',
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_group_members_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_group_members_student_id_students')),
    sa.PrimaryKeyConstraint('group_id', 'student_id', name=op.f('pk_group_members'))
    )
    with op.batch_alter_table('group_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_members_student_id'), ['student_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('group_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_members_student_id'))

    op.drop_table('group_members')
    with op.batch_alter_table('participations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_participations_student_id'))
        batch_op.drop_index(batch_op.f('ix_participations_department_id'))

    op.drop_table('participations')
    op.drop_table('groups')
    op.drop_table('departments')
    with op.batch_alter_table('students', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_students_institution_id_onderwijsnummer'))

    op.drop_table('students')
    op.drop_table('projects')
    with op.batch_alter_table('bsn_audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bsn_audit_institution_id_student_number'))

    op.drop_table('bsn_audit')
