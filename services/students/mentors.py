"""Mentors and their students.

A mentor (teamleider/mentor: a user with the role mentor) looks after one or
more home classes; their students are the students whose record's home class
(the class they are in now) is one of them and who have not left school. On
the mentor's page they enter forecasts for those students' participations in
a schedule project (next year's, usually) and, where the portal leads the
department's home classes, the home class (rules.mentor_may_change; the
change itself goes through placements.update_participation and its rules).

The users service knows who is a mentor (roles); this service keeps which
classes each one looks after (mentor_classes).
"""
import sqlalchemy as sa

from services.common.errors import validation_error
from services.common.outbox import utcnow

from . import lookups, rules
from .models import Department, MentorClass, Participation, Project, Student


def _codes(session, institution_id, code):
    return list(session.execute(
        sa.select(MentorClass.home_class)
        .where(MentorClass.institution_id == institution_id, MentorClass.mentor_code == code)
        .order_by(MentorClass.home_class)).scalars())


def _mentor_code(code):
    try:
        value = rules.text(code)
    except rules.InvalidValue:
        value = None
    return value if value and len(value) <= 50 else None


def get_mentor_classes(uow, institution_id, code):
    iid, code = lookups.to_id(institution_id), _mentor_code(code)
    return {"mentor": code, "home_classes": _codes(uow.session, iid, code) if code else []}


def set_mentor_classes(uow, users, institution_id, code, home_classes):
    """Replace the home classes a mentor looks after (the user must exist in
    the institution and have the role mentor)."""
    iid = lookups.to_id(institution_id)
    classes, errors = rules.clean_mentor_classes(home_classes)
    if errors:
        raise validation_error(errors)
    mentor = _mentor_code(code)
    user = users.get_user(iid, mentor or "")  # 404 from the users service: no such user
    rules.check_mentor(user, mentor)
    session = uow.session
    session.execute(sa.delete(MentorClass).where(MentorClass.institution_id == iid,
                                                 MentorClass.mentor_code == mentor))
    now = utcnow()
    for home_class in classes:
        session.add(MentorClass(institution_id=iid, mentor_code=mentor, home_class=home_class,
                                created_at=now))
    uow.commit()
    return {"mentor": mentor, "home_classes": sorted(classes)}


def _project(session, institution_id, project_id):
    """The project the page shows: the one asked for, else the newest school
    year's (the forecasts are for next year), else None."""
    if project_id is not None:
        return lookups.load_project(session, institution_id, project_id)
    return session.execute(
        sa.select(Project).where(Project.institution_id == institution_id)
        .order_by(Project.school_year.desc(), Project.id.desc()).limit(1)).scalar()


def mentor_students(uow, users, institution_id, code, project_id=None, page=1, page_size=50):
    """The mentor's students (by home class, then student number) with their
    participations in the project and what the mentor may change on each."""
    session = uow.session
    iid = lookups.to_id(institution_id)
    page, page_size = rules.page_args(page, page_size)
    mentor = _mentor_code(code)
    classes = _codes(session, iid, mentor) if mentor else []
    project = _project(session, iid, project_id)
    result = {"mentor": mentor, "home_classes": classes,
              "project": lookups.project_view(project) if project else None}
    if not classes:
        return {**lookups.page_result([], 0, page, page_size), **result}
    where = [Student.institution_id == iid, Student.left_at.is_(None),
             sa.func.lower(Student.home_class).in_([c.lower() for c in classes])]
    total = session.execute(sa.select(sa.func.count()).select_from(Student)
                            .where(*where)).scalar_one()
    found = list(session.execute(
        sa.select(Student).where(*where)
        .order_by(sa.func.lower(Student.home_class), sa.func.length(Student.student_number),
                  Student.student_number)
        .limit(page_size).offset((page - 1) * page_size)).scalars())
    parts = {}
    if project is not None and found:
        rows = session.execute(
            sa.select(Participation, Department.code, Department.home_class_authority)
            .join(Department, Department.id == Participation.department_id)
            .where(Participation.project_id == project.id,
                   Participation.student_id.in_([s.id for s in found]))
            .order_by(Department.code)).all()
        for part, dept_code, authority in rows:
            view = lookups.participation_view(part, None, dept_code, project.school_year)
            view.update(home_class_authority=authority,
                        may_change=rules.mentor_may_change(authority))
            parts.setdefault(part.student_id, []).append(view)
    uow.session.commit()  # end the read before asking the users service
    people = {u["code"]: u for u in users.get_users(iid, [s.student_number for s in found])} \
        if found else {}
    items = []
    for student in found:
        person = people.get(student.student_number) or {}
        own = parts.get(student.id, [])
        for view in own:
            view["student_number"] = student.student_number
        items.append({
            "student_number": student.student_number, "first_name": person.get("first_name"),
            "prefix": person.get("prefix"), "last_name": person.get("last_name"),
            "home_class": student.home_class, "year_of_education": student.year_of_education,
            "track": student.track,
            "status": rules.leave_status(student.leave_date, student.left_at),
            "participations": own,
        })
    return {**lookups.page_result(items, total, page, page_size), **result}
