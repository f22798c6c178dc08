"""The whole portal state of one schedule project in one read, for the portal
connector (services/sync): departments with their home-class authority,
participations (with the package), packages, groups with their members, and
the student records' own home class.

A handful of Core queries (no ORM objects), so a project of 20,000 students
reads in well under a second. Nothing here changes anything.
"""
import sqlalchemy as sa

from . import lookups
from .models import departments, group_members, groups, participations, students


def project_state(uow, institution_id, project_id):
    """{"project", "departments", "participations", "packages", "groups",
    "students"} of a project of the institution; 404 for a project of
    another institution (exactly as for a missing one).

    - departments: [{id, code, year_of_education, education, home_class_authority}]
    - participations: [{id, student_number, department, forecast, lwoo,
      home_class, profile, programme, learning_path}]: one per student per
      department (a student may be placed in several departments)
    - packages: [{participation_id, student_number, department, subjects,
      exemptions}]: one per participation
    - groups: [{id, code, department, kind, subject, student_numbers}]
    - students: [{student_number, home_class, type, left_at}] of the
      participating students, once each (their record's own home class: the class the
      administration knows them in, shown as the previous home class)
    """
    session = uow.session
    project = lookups.load_project(session, institution_id, project_id)
    pid = project.id

    dept_rows = session.execute(
        sa.select(departments.c.id, departments.c.code, departments.c.year_of_education,
                  departments.c.education, departments.c.home_class_authority)
        .where(departments.c.project_id == pid)
        .order_by(departments.c.code)).all()
    dept_code = {row.id: row.code for row in dept_rows}
    dept_list = [{"id": r.id, "code": r.code, "year_of_education": r.year_of_education,
                  "education": r.education, "home_class_authority": r.home_class_authority}
                 for r in dept_rows]

    p = participations.c
    part_rows = session.execute(
        sa.select(p.id, students.c.student_number, p.department_id, p.forecast, p.lwoo,
                  p.home_class, p.profile, p.programme, p.learning_path, p.subjects,
                  p.exemptions, students.c.home_class.label("record_home_class"),
                  students.c.type, students.c.left_at)
        .join(students, students.c.id == p.student_id)
        .where(p.project_id == pid)
        .order_by(p.id)).all()
    parts, packages, records, seen = [], [], [], set()
    for r in part_rows:
        dept = dept_code.get(r.department_id)
        parts.append({"id": r.id, "student_number": r.student_number, "department": dept,
                      "forecast": r.forecast, "lwoo": bool(r.lwoo),
                      "home_class": r.home_class, "profile": r.profile,
                      "programme": r.programme, "learning_path": r.learning_path})
        packages.append({"participation_id": r.id, "student_number": r.student_number,
                         "department": dept, "subjects": list(r.subjects or []),
                         "exemptions": list(r.exemptions or [])})
        if r.student_number not in seen:  # a student placed in several departments
            seen.add(r.student_number)
            records.append({"student_number": r.student_number,
                            "home_class": r.record_home_class, "type": r.type,
                            "left_at": lookups.iso(r.left_at)})

    group_rows = session.execute(
        sa.select(groups.c.id, groups.c.code, groups.c.department_id, groups.c.kind,
                  groups.c.subject)
        .where(groups.c.project_id == pid).order_by(groups.c.code)).all()
    members = {r.id: [] for r in group_rows}
    if group_rows:
        for gid, number in session.execute(
                sa.select(group_members.c.group_id, students.c.student_number)
                .join(students, students.c.id == group_members.c.student_id)
                .join(groups, groups.c.id == group_members.c.group_id)
                .where(groups.c.project_id == pid)
                .order_by(group_members.c.group_id, students.c.student_number)):
            members[gid].append(number)
    group_list = [{"id": r.id, "code": r.code, "department": dept_code.get(r.department_id),
                   "kind": r.kind, "subject": r.subject, "student_numbers": members[r.id]}
                  for r in group_rows]
    return {"project": lookups.project_view(project), "departments": dept_list,
            "participations": parts, "packages": packages, "groups": group_list,
            "students": records}
