"""Tables of the students service (its own database: `STUDENTS_DATABASE_URL`).

students          the student record (leerlingnummer = the user's code; the
                  person's name and address live in the users service)
projects          schedule projects (roosterproject): one school year, one branch
departments       afdelingen of a project, with their learning paths (leerpaden)
participations    afdelingsdeelname: a student in a department of a project (one
                  per student per department; several per project possible),
                  with forecast, profile, programme, learning path, home class,
                  LWOO and the package (subjects + exemptions)
groups            home-class and cluster groups of a project; group_members
bsn_audit         every creation, change and reveal of a BSN/onderwijsnummer
mentor_classes    which home classes a mentor looks after (their students: those
                  whose record's home class is one of them)
outbox, processed_events   the shared event tables

Every row carries `institution_id` (directly, or through its project) so a
query scoped to one institution never needs another service.
"""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from services.common.outbox import outbox_table, processed_events_table
from services.common.tables import Timestamp, Timestamps, declarative_base

Base = declarative_base()
metadata = Base.metadata


class Student(Timestamps, Base):
    __tablename__ = "students"
    __table_args__ = (
        sa.UniqueConstraint("institution_id", "student_number"),
        # NULLs are distinct: many students without a BSN, one per BSN.
        sa.UniqueConstraint("institution_id", "bsn"),
        sa.Index(None, "institution_id", "onderwijsnummer"),
        sa.Index(None, "institution_id", "origin_key"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    institution_id: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    student_number: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    user_id: Mapped[int | None] = mapped_column(sa.Integer)
    type: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    bsn: Mapped[str | None] = mapped_column(sa.String(9))
    onderwijsnummer: Mapped[str | None] = mapped_column(sa.String(9))
    date_of_birth: Mapped[dt.date | None] = mapped_column(sa.Date)
    year_of_education: Mapped[int | None] = mapped_column(sa.Integer)
    track: Mapped[str | None] = mapped_column(sa.String(50))
    home_class: Mapped[str | None] = mapped_column(sa.String(50))
    # the day the student leaves school: planned while in the future (left_at
    # still empty), carried out on that day
    leave_date: Mapped[dt.date | None] = mapped_column(sa.Date, index=True)
    # set when the leaving was carried out (leave_student or the user archived)
    left_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    # the student left, the account still has to be archived (users did not answer)
    archive_pending: Mapped[bool] = mapped_column(sa.Boolean, nullable=False,
                                                  server_default=sa.false())
    # The operation that created the record (a list load "submission:<id>", a
    # request "request:<key>"): a repeated request answers as the first did, and
    # a list's counts are what it actually stored.
    origin_key: Mapped[str | None] = mapped_column(sa.String(80))


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (sa.UniqueConstraint("institution_id", "school_year", "branch"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    institution_id: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    school_year: Mapped[str] = mapped_column(sa.String(9), nullable=False)
    branch: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, nullable=False)


class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (sa.UniqueConstraint("project_id", "code"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    code: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    year_of_education: Mapped[int | None] = mapped_column(sa.Integer)
    education: Mapped[str | None] = mapped_column(sa.String(50))
    home_class_authority: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    # [{"code", "name", "element_code"}]
    learning_paths: Mapped[list] = mapped_column(sa.JSON, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, nullable=False)


DEFERRABLE = {"deferrable": True, "initially": "IMMEDIATE"}
# the names of those keys (services/common/tables.py's naming convention)
PARTICIPATION_KEYS = ("fk_participations_project_id_projects",
                      "fk_participations_student_id_students",
                      "fk_participations_department_id_departments")


class Participation(Timestamps, Base):
    __tablename__ = "participations"
    # one participation per student per department of a project; a student may
    # have several in one project (forecasts over departments: rules/participations.py)
    __table_args__ = (sa.UniqueConstraint("project_id", "student_id", "department_id"),
                      sa.Index(None, "student_id"))

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    institution_id: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    # The three keys may be checked at commit instead of per row (DEFERRABLE,
    # checked per row unless a transaction says otherwise): a list load defers
    # them (handlers/create_many.py), so PostgreSQL checks a batch's
    # participations while the students process goes on instead of during the
    # COPY, which holds the process.
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE", **DEFERRABLE), nullable=False)
    student_id: Mapped[int] = mapped_column(sa.ForeignKey("students.id", **DEFERRABLE),
                                            nullable=False)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("departments.id", **DEFERRABLE),
                                               nullable=False, index=True)
    forecast: Mapped[int | None] = mapped_column(sa.Integer)
    profile: Mapped[str | None] = mapped_column(sa.String(50))
    programme: Mapped[str | None] = mapped_column(sa.String(100))
    learning_path: Mapped[str | None] = mapped_column(sa.String(50))
    home_class: Mapped[str | None] = mapped_column(sa.String(50))
    lwoo: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    # the package: chosen subject codes and exempted subject codes
    subjects: Mapped[list] = mapped_column(sa.JSON, nullable=False)
    exemptions: Mapped[list] = mapped_column(sa.JSON, nullable=False)


class Group(Base):
    __tablename__ = "groups"
    __table_args__ = (sa.UniqueConstraint("project_id", "code"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    institution_id: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    code: Mapped[str] = mapped_column(sa.String(50), nullable=False)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("departments.id"))
    kind: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    subject: Mapped[str | None] = mapped_column(sa.String(20))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, nullable=False)


class GroupMember(Base):
    __tablename__ = "group_members"
    __table_args__ = (sa.Index(None, "student_id"),)

    group_id: Mapped[int] = mapped_column(
        sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    student_id: Mapped[int] = mapped_column(sa.ForeignKey("students.id"), primary_key=True)


class BsnAudit(Base):
    """Who created, changed or saw a student's BSN/onderwijsnummer, and when.
    Never the number itself."""
    __tablename__ = "bsn_audit"
    __table_args__ = (sa.Index(None, "institution_id", "student_number"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    institution_id: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    student_id: Mapped[int | None] = mapped_column(sa.Integer)
    student_number: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    action: Mapped[str] = mapped_column(sa.String(10), nullable=False)  # create|change|reveal
    # which numbers: "bsn", "onderwijsnummer" or both, comma-separated
    fields: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    actor_user_id: Mapped[int | None] = mapped_column(sa.Integer)
    actor_code: Mapped[str | None] = mapped_column(sa.String(50))
    at: Mapped[dt.datetime] = mapped_column(Timestamp, nullable=False)


class MentorClass(Base):
    """A home class a mentor (a user with the role mentor, by code) looks after."""
    __tablename__ = "mentor_classes"
    __table_args__ = (sa.UniqueConstraint("institution_id", "mentor_code", "home_class"),
                      sa.Index(None, "institution_id", "home_class"))

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    institution_id: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    mentor_code: Mapped[str] = mapped_column(sa.String(50), nullable=False)
    home_class: Mapped[str] = mapped_column(sa.String(50), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, nullable=False)


students = Student.__table__
projects = Project.__table__
departments = Department.__table__
participations = Participation.__table__
groups = Group.__table__
group_members = GroupMember.__table__
bsn_audit = BsnAudit.__table__
mentor_classes = MentorClass.__table__
outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
