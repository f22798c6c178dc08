"""Loading records scoped to one institution, and turning them into the plain
dicts the RPC methods answer. Shared by handlers/ and placements/.

Every loader takes the caller's institution_id and answers 404 `not_found`
for a record of another institution, exactly as for a missing one.
"""

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.common.errors import not_found
from services.common.ids import mask, to_id
from services.common.paging import page_result  # noqa: F401  (re-exported)
from services.common.times import as_utc, iso  # noqa: F401  (re-exported)

from . import rules
from .models import Department, Group, Participation, Project, Student, group_members, groups

_IN_CHUNK = 5000


def institution_id_of(value):
    iid = to_id(value)
    if iid is None:
        raise not_found("institution", "Instelling niet gevonden.")
    return iid


def chunks(seq, size=_IN_CHUNK):
    seq = list(seq)
    for start in range(0, len(seq), size):
        yield seq[start:start + size]


def add_unique(uow, record, taken, exists):
    """Add and commit `record`, raising the conflict `exists` when the `taken` query
    finds a row already, or when a racing insert breaks a unique constraint."""
    session = uow.session
    if session.execute(taken).first():
        raise exists
    session.add(record)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise exists from None
    uow.commit()
    return record


# --- loaders -------------------------------------------------------------------

def student_number_arg(value):
    try:
        number = rules.text(value)
    except rules.InvalidValue:
        return None
    return number if number and number.isascii() and number.isdigit() else None


def student_not_found():
    return not_found("student", "Leerling niet gevonden.")


def load_student(session, institution_id, student_number, for_update=False):
    iid, number = to_id(institution_id), student_number_arg(student_number)
    if iid is None or number is None:
        raise student_not_found()
    query = sa.select(Student).where(Student.institution_id == iid,
                                     Student.student_number == number)
    if for_update:
        query = query.with_for_update()
    student = session.execute(query).scalar_one_or_none()
    if student is None:
        raise student_not_found()
    return student


def _load_own(session, model, institution_id, record_id, what, text):
    iid, rid = to_id(institution_id), to_id(record_id)
    record = session.get(model, rid) if rid is not None else None
    if record is None or record.institution_id != iid:
        raise not_found(what, text)
    return record


def load_project(session, institution_id, project_id):
    return _load_own(session, Project, institution_id, project_id, "project",
                     "Roosterproject niet gevonden.")


def load_participation(session, institution_id, participation_id, for_update=False):
    iid, pid = to_id(institution_id), to_id(participation_id)
    part = None
    if pid is not None:
        query = sa.select(Participation).where(Participation.id == pid)
        if for_update:
            query = query.with_for_update()
        part = session.execute(query).scalar_one_or_none()
    if part is None or part.institution_id != iid:
        raise not_found("participation", "Afdelingsdeelname niet gevonden.")
    return part


def load_group(session, institution_id, group_id):
    return _load_own(session, Group, institution_id, group_id, "group", "Groep niet gevonden.")


def departments_of(session, project_id):
    """{code: Department} of a project."""
    return {d.code: d for d in session.execute(
        sa.select(Department).where(Department.project_id == project_id)).scalars()}


def department_dicts(departments):
    return {code: {"id": d.id, "code": d.code, "learning_paths": d.learning_paths or [],
                   "home_class_authority": d.home_class_authority}
            for code, d in departments.items()}


def numbers_by_student_id(session, student_ids):
    found = {}
    for chunk in chunks(set(student_ids)):
        found.update(session.execute(
            sa.select(Student.id, Student.student_number).where(Student.id.in_(chunk))).all())
    return found


def members_of(session, group_ids):
    """{group_id: [student_number, ...]} sorted by student number."""
    result = {gid: [] for gid in group_ids}
    for chunk in chunks(group_ids):
        rows = session.execute(
            sa.select(group_members.c.group_id, Student.student_number)
            .join(Student, Student.id == group_members.c.student_id)
            .where(group_members.c.group_id.in_(chunk))
            .order_by(sa.func.length(Student.student_number), Student.student_number)).all()
        for gid, number in rows:
            result[gid].append(number)
    return result


def groups_of_student(session, project_id, student_id):
    """[Group] of a project the student is a member of."""
    return list(session.execute(
        sa.select(Group).join(group_members, group_members.c.group_id == Group.id)
        .where(Group.project_id == project_id, group_members.c.student_id == student_id)
        .order_by(Group.code)).scalars())


# --- views -----------------------------------------------------------------------

def student_view(student, user=None, reveal=False):
    """The student record plus the user's personal data. BSN and
    onderwijsnummer are masked (`*****6789`) unless `reveal`."""
    user = user or {}
    view = {
        "id": student.id, "institution_id": student.institution_id,
        "student_number": student.student_number, "type": student.type,
        "bsn": student.bsn if reveal else mask(student.bsn),
        "onderwijsnummer": student.onderwijsnummer if reveal else mask(student.onderwijsnummer),
        "date_of_birth": iso(student.date_of_birth),
        "year_of_education": student.year_of_education, "track": student.track,
        "home_class": student.home_class, "user_id": student.user_id,
    }
    for field in rules.PERSONAL_FIELDS:
        view[field] = user.get(field)
    view.update({
        "registered": user.get("last_login_at") is not None,
        "archived": bool(user.get("archived")),
        "left_at": iso(student.left_at),
        "leave_date": iso(student.leave_date),
        "status": rules.leave_status(student.leave_date, student.left_at),
        "created_at": iso(student.created_at), "updated_at": iso(student.updated_at),
    })
    return view


def project_view(project):
    return {"id": project.id, "institution_id": project.institution_id, "name": project.name,
            "school_year": project.school_year, "branch": project.branch,
            "created_at": iso(project.created_at)}


def department_view(dept):
    return {"id": dept.id, "project_id": dept.project_id, "code": dept.code,
            "year_of_education": dept.year_of_education, "education": dept.education,
            "home_class_authority": dept.home_class_authority,
            "learning_paths": list(dept.learning_paths or []),
            "created_at": iso(dept.created_at)}


def participation_view(part, student_number, department_code, school_year):
    return {"id": part.id, "institution_id": part.institution_id,
            "project_id": part.project_id, "school_year": school_year,
            "student_number": student_number, "department": department_code,
            "forecast": part.forecast, "profile": part.profile, "programme": part.programme,
            "learning_path": part.learning_path, "home_class": part.home_class,
            "lwoo": bool(part.lwoo),
            "created_at": iso(part.created_at), "updated_at": iso(part.updated_at)}


def package_view(part, student_number):
    return {"participation_id": part.id, "student_number": student_number,
            "subjects": list(part.subjects or []), "exemptions": list(part.exemptions or [])}


def group_view(group, department_code, student_numbers):
    return {"id": group.id, "project_id": group.project_id, "code": group.code,
            "department": department_code, "kind": group.kind, "subject": group.subject,
            "student_numbers": list(student_numbers)}


def group_ids_query(project_id):
    return sa.select(groups.c.id).where(groups.c.project_id == project_id)
