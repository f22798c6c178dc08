"""Use cases of placements: projects, departments (with learning paths),
participations, packages, groups and the placements export.

Each function takes an entered UnitOfWork, does one command or query, commits
with its events where it changes something, and returns plain JSON-able
values. Rules live in rules.py.

Home classes and home-class groups are kept in agreement: a participation's
`home_class` names the home-class group (of its department) the student is a
member of. Setting a participation's home class moves the membership when
such a group exists; setting the members of a home-class group sets those
participations' home class. Changing department drops every group membership
in the project (the home-class value itself stays until it is changed, as in
the portal this mirrors).
"""
import csv
import io

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.common.errors import conflict, error_item, forbidden, not_found, validation_error
from services.common.outbox import utcnow

from . import lookups, rules
from .models import (Department, Group, Participation, Project, Student, group_members,
                     participations)


# --- projects ---------------------------------------------------------------------

def create_project(uow, institution_id, data):
    iid = lookups.institution_id_of(institution_id)
    clean = rules.check_project(data)
    session = uow.session
    exists = conflict("project_exists", f"Er bestaat al een roosterproject voor schooljaar "
                                        f"{clean['school_year']} en vestiging "
                                        f"{clean['branch']}.", field="school_year")
    if session.execute(sa.select(Project.id).where(
            Project.institution_id == iid, Project.school_year == clean["school_year"],
            Project.branch == clean["branch"])).first():
        raise exists
    project = Project(institution_id=iid, created_at=utcnow(), **clean)
    session.add(project)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise exists from None
    uow.commit()
    return lookups.project_view(project)


def list_projects(uow, institution_id, page=1, page_size=500):
    page, page_size = rules.page_args(page, page_size, default_size=500)
    iid = lookups.to_id(institution_id)
    query = sa.select(Project).where(Project.institution_id == (iid if iid is not None else -1))
    total = uow.session.execute(
        sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    items = uow.session.execute(
        query.order_by(Project.school_year.desc(), Project.branch, Project.id)
        .limit(page_size).offset((page - 1) * page_size)).scalars()
    return lookups.page_result([lookups.project_view(p) for p in items], total, page, page_size)


def get_project(uow, institution_id, project_id):
    return lookups.project_view(lookups.load_project(uow.session, institution_id, project_id))


# --- departments --------------------------------------------------------------------

def create_department(uow, institution_id, project_id, data):
    project = lookups.load_project(uow.session, institution_id, project_id)
    clean = rules.check_department(data)
    session = uow.session
    exists = conflict("department_exists",
                      f"Afdeling {clean['code']} bestaat al in dit roosterproject.", field="code")
    if session.execute(sa.select(Department.id).where(
            Department.project_id == project.id, Department.code == clean["code"])).first():
        raise exists
    dept = Department(project_id=project.id, created_at=utcnow(), **clean)
    session.add(dept)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise exists from None
    uow.commit()
    return lookups.department_view(dept)


def list_departments(uow, institution_id, project_id, page=1, page_size=500):
    project = lookups.load_project(uow.session, institution_id, project_id)
    page, page_size = rules.page_args(page, page_size, default_size=500)
    query = sa.select(Department).where(Department.project_id == project.id)
    total = uow.session.execute(
        sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    items = uow.session.execute(
        query.order_by(Department.year_of_education, Department.code)
        .limit(page_size).offset((page - 1) * page_size)).scalars()
    return lookups.page_result([lookups.department_view(d) for d in items], total, page,
                               page_size)


def update_department(uow, institution_id, project_id, department_code, changes):
    """Change a department: who leads its home classes (portal or desktop),
    its year of education or education. A new authority applies from then on:
    home classes set before stay as they are. Emits department_changed."""
    project = lookups.load_project(uow.session, institution_id, project_id)
    session = uow.session
    code = rules.text(department_code) if isinstance(department_code, str) else None
    dept = session.execute(sa.select(Department).where(
        Department.project_id == project.id, Department.code == code)
        .with_for_update()).scalar_one_or_none()
    if dept is None:
        raise _department_not_found(department_code)
    current = {"code": dept.code, "home_class_authority": dept.home_class_authority,
               "year_of_education": dept.year_of_education, "education": dept.education}
    updates = rules.check_department_changes(current, changes)
    if updates:
        for field, value in updates.items():
            setattr(dept, field, value)
        uow.add_event("department_changed", project.institution_id, {
            "project_id": project.id, "school_year": project.school_year,
            "department": dept.code,
            "changes": {f: [current[f], v] for f, v in updates.items()}})
        uow.commit()
    return lookups.department_view(dept)


def _department_not_found(code):
    return not_found("department", f"Afdeling {code} niet gevonden in dit roosterproject.")


def set_learning_paths(uow, institution_id, project_id, department_code, paths):
    """Replace a department's learning paths. A path still used by a
    participation cannot be removed (409 learning_path_in_use)."""
    project = lookups.load_project(uow.session, institution_id, project_id)
    session = uow.session
    code = rules.text(department_code) if isinstance(department_code, str) else None
    dept = session.execute(sa.select(Department).where(
        Department.project_id == project.id, Department.code == code)).scalar_one_or_none()
    if dept is None:
        raise _department_not_found(department_code)
    errors = []
    clean = rules.check_learning_paths(paths, errors)
    if errors:
        raise validation_error(errors)
    kept = {p["code"] for p in clean}
    used = session.execute(
        sa.select(Participation.learning_path, sa.func.count())
        .where(Participation.department_id == dept.id,
               Participation.learning_path.is_not(None))
        .group_by(Participation.learning_path)).all()
    in_use = sorted(path for path, _n in used if path not in kept)
    if in_use:
        raise conflict("learning_path_in_use",
                       f"Leerpad {', '.join(in_use)} is nog aan leerlingen toegekend; wijs "
                       f"eerst een ander leerpad toe.", field="learning_paths")
    dept.learning_paths = clean
    uow.commit()
    return lookups.department_view(dept)


# --- group membership helpers ------------------------------------------------------

def _members_event(uow, group, department_code, added, removed):
    members = lookups.members_of(uow.session, [group.id])[group.id]
    uow.add_event("group_members_changed", group.institution_id, {
        "group_id": group.id, "project_id": group.project_id, "code": group.code,
        "kind": group.kind, "department": department_code,
        "added": sorted(added), "removed": sorted(removed), "student_numbers": members})


def _department_codes(session, department_ids):
    ids = [i for i in set(department_ids) if i is not None]
    if not ids:
        return {}
    return dict(session.execute(
        sa.select(Department.id, Department.code).where(Department.id.in_(ids))).all())


def drop_memberships(uow, project_id, student_id, student_number, keep_group_id=None):
    """Remove the student from every group of the project (except
    keep_group_id); one group_members_changed per group. Returns the codes."""
    session = uow.session
    dropped = [g for g in lookups.groups_of_student(session, project_id, student_id)
               if g.id != keep_group_id]
    if not dropped:
        return []
    session.execute(sa.delete(group_members).where(
        group_members.c.student_id == student_id,
        group_members.c.group_id.in_([g.id for g in dropped])))
    codes = _department_codes(session, [g.department_id for g in dropped])
    for group in dropped:
        _members_event(uow, group, codes.get(group.department_id), [], [student_number])
    return [g.code for g in dropped]


def _sync_home_class_group(uow, part, student_number, home_class):
    """Make the student's home-class group membership agree with `home_class`:
    leave other home-class groups of the project, join the group with that
    code in the participation's department when it exists."""
    session = uow.session
    current = [g for g in lookups.groups_of_student(session, part.project_id, part.student_id)
               if g.kind == "home_class"]
    target = None
    if home_class is not None:
        target = session.execute(sa.select(Group).where(
            Group.project_id == part.project_id, Group.kind == "home_class",
            Group.code == home_class, Group.department_id == part.department_id)
        ).scalar_one_or_none()
    leave = [g for g in current if target is None or g.id != target.id]
    codes = _department_codes(session, [g.department_id for g in leave]
                              + ([target.department_id] if target else []))
    if leave:
        session.execute(sa.delete(group_members).where(
            group_members.c.student_id == part.student_id,
            group_members.c.group_id.in_([g.id for g in leave])))
        for group in leave:
            _members_event(uow, group, codes.get(group.department_id), [], [student_number])
    if target is not None and all(g.id != target.id for g in current):
        session.execute(sa.insert(group_members).values(group_id=target.id,
                                                        student_id=part.student_id))
        _members_event(uow, target, codes.get(target.department_id), [student_number], [])


def _home_class_event(uow, part, student_number, department_code, old, new):
    uow.add_event("home_class_changed", part.institution_id, {
        "participation_id": part.id, "project_id": part.project_id,
        "student_number": student_number, "department": department_code,
        "old": old, "new": new})


# --- participations -------------------------------------------------------------------

def _participation_context(session, part):
    """(student_number, department, project) of a participation."""
    number = session.execute(sa.select(Student.student_number)
                             .where(Student.id == part.student_id)).scalar_one()
    dept = session.get(Department, part.department_id)
    project = session.get(Project, part.project_id)
    return number, dept, project


def _participation_data(part, number, dept_code, project):
    return {"participation_id": part.id, "project_id": part.project_id,
            "school_year": project.school_year, "student_number": number,
            "department": dept_code, "forecast": part.forecast, "profile": part.profile,
            "programme": part.programme, "learning_path": part.learning_path,
            "home_class": part.home_class, "lwoo": bool(part.lwoo)}


def create_participation(uow, institution_id, project_id, data, actor=None):
    session = uow.session
    project = lookups.load_project(session, institution_id, project_id)
    departments = lookups.departments_of(session, project.id)
    errors = []
    number = None
    if isinstance(data, dict):
        number = rules.clean_student_number(data.get("student_number"), errors)
    clean, part_errors = rules.check_participation(data, lookups.department_dicts(departments))
    errors.extend(part_errors)
    student = None
    if number is not None:
        student = session.execute(sa.select(Student).where(
            Student.institution_id == project.institution_id,
            Student.student_number == number)).scalar_one_or_none()
        if student is None:
            errors.append(error_item("student_unknown", f"Er is geen leerling met "
                                     f"leerlingnummer {number}.", field="student_number"))
    if errors:
        raise validation_error(errors)
    exists = conflict("participation_exists",
                      f"Leerling {number} heeft al een afdelingsdeelname in dit roosterproject.",
                      field="student_number")
    if session.execute(sa.select(Participation.id).where(
            Participation.project_id == project.id,
            Participation.student_id == student.id)).first():
        raise exists
    dept = departments[clean["department"]]
    if clean["home_class"] is not None:
        rules.check_home_class_authority(actor, dept.home_class_authority, dept.code)
    now = utcnow()
    part = Participation(
        institution_id=project.institution_id, project_id=project.id, student_id=student.id,
        department_id=dept.id, forecast=clean["forecast"], profile=clean["profile"],
        programme=clean["programme"], learning_path=clean["learning_path"],
        home_class=clean["home_class"], lwoo=clean["lwoo"], subjects=[], exemptions=[],
        created_at=now, updated_at=now)
    session.add(part)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise exists from None
    uow.add_event("participation_created", part.institution_id,
                  _participation_data(part, number, dept.code, project))
    if part.home_class is not None:
        _sync_home_class_group(uow, part, number, part.home_class)
    uow.commit()
    return lookups.participation_view(part, number, dept.code, project.school_year)


def list_participations(uow, institution_id, project_id, department=None, page=1,
                        page_size=50):
    session = uow.session
    project = lookups.load_project(session, institution_id, project_id)
    page, page_size = rules.page_args(page, page_size)
    query = (sa.select(Participation, Student.student_number, Department.code)
             .join(Student, Student.id == Participation.student_id)
             .join(Department, Department.id == Participation.department_id)
             .where(Participation.project_id == project.id))
    if department is not None:
        try:
            code = rules.text(department)
        except rules.InvalidValue:
            code = None
        query = query.where(Department.code == code)
    total = session.execute(
        sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(
        query.order_by(Department.code, sa.func.length(Student.student_number),
                       Student.student_number)
        .limit(page_size).offset((page - 1) * page_size)).all()
    items = [lookups.participation_view(part, number, code, project.school_year)
             for part, number, code in rows]
    return lookups.page_result(items, total, page, page_size)


def get_participation(uow, institution_id, participation_id):
    part = lookups.load_participation(uow.session, institution_id, participation_id)
    number, dept, project = _participation_context(uow.session, part)
    return lookups.participation_view(part, number, dept.code, project.school_year)


def update_participation(uow, institution_id, participation_id, changes, actor=None):
    """Change a participation. A new department needs `keep_package` (the
    package is wiped when false) and drops every group membership of the
    student in the project. A mentor (without admin) may change only forecast
    and home_class (403 otherwise); nobody changes a home class where the
    desktop leads the department's home classes (409)."""
    session = uow.session
    part = lookups.load_participation(session, institution_id, participation_id,
                                      for_update=True)
    number, dept, project = _participation_context(session, part)
    departments = lookups.departments_of(session, project.id)
    current = {"department": dept.code, "forecast": part.forecast, "profile": part.profile,
               "programme": part.programme, "learning_path": part.learning_path,
               "home_class": part.home_class, "lwoo": bool(part.lwoo)}
    if isinstance(changes, dict):
        touched = [k for k in changes if k in rules.PARTICIPATION_FIELDS
                   and (k in rules.MENTOR_FIELDS or changes[k] != current.get(k))]
        rules.check_participation_permission(actor, touched)
    updates, keep_package, errors = rules.check_participation_changes(
        current, changes, lookups.department_dicts(departments))
    if errors:
        raise validation_error(errors)
    if "home_class" in updates:
        target = departments.get(updates.get("department", dept.code), dept)
        rules.check_home_class_authority(actor, target.home_class_authority, target.code)
    if not updates:
        return lookups.participation_view(part, number, dept.code, project.school_year)

    event_changes = {field: [current[field], new] for field, new in updates.items()}
    extra = {}
    new_dept = dept
    if "department" in updates:
        new_dept = departments[updates["department"]]
        part.department_id = new_dept.id
        extra["dropped_groups"] = drop_memberships(uow, project.id, part.student_id, number)
        extra["package"] = "kept" if keep_package else "wiped"
        if not keep_package and (part.subjects or part.exemptions):
            part.subjects, part.exemptions = [], []
            uow.add_event("package_changed", part.institution_id, {
                "participation_id": part.id, "project_id": project.id,
                "student_number": number, "subjects": [], "exemptions": [],
                "reason": "department_changed"})
    for field in ("forecast", "profile", "programme", "learning_path", "home_class", "lwoo"):
        if field in updates:
            setattr(part, field, updates[field])
    part.updated_at = utcnow()
    uow.add_event("participation_changed", part.institution_id, {
        "participation_id": part.id, "project_id": project.id,
        "school_year": project.school_year, "student_number": number,
        "department": new_dept.code, "changes": event_changes, **extra})
    if "home_class" in updates:
        _home_class_event(uow, part, number, new_dept.code, current["home_class"],
                          updates["home_class"])
        session.flush()
        _sync_home_class_group(uow, part, number, part.home_class)
    uow.commit()
    return lookups.participation_view(part, number, new_dept.code, project.school_year)


def remove_participation(uow, part, number, dept_code, project, reason):
    """Drop the group memberships and the participation (package included);
    emits participation_removed. Does not commit."""
    drop_memberships(uow, project.id, part.student_id, number)
    uow.session.execute(sa.delete(participations).where(participations.c.id == part.id))
    uow.add_event("participation_removed", part.institution_id, {
        "participation_id": part.id, "project_id": project.id,
        "school_year": project.school_year, "student_number": number,
        "department": dept_code, "reason": reason})


def delete_participation(uow, institution_id, participation_id, actor=None):
    session = uow.session
    part = lookups.load_participation(session, institution_id, participation_id,
                                      for_update=True)
    if actor is not None and not rules.is_admin(actor):
        raise forbidden("Alleen een beheerder mag een afdelingsdeelname verwijderen.")
    number, dept, project = _participation_context(session, part)
    remove_participation(uow, part, number, dept.code, project, reason="deleted")
    uow.commit()
    return {"id": part.id, "deleted": True}


# --- packages ---------------------------------------------------------------------------

def get_package(uow, institution_id, participation_id):
    part = lookups.load_participation(uow.session, institution_id, participation_id)
    number, _dept, _project = _participation_context(uow.session, part)
    return lookups.package_view(part, number)


def set_package(uow, institution_id, participation_id, subjects, exemptions):
    """Replace the package: subjects chosen and exemptions (vrijstellingen).
    See rules.check_package for how exemptions relate to subjects."""
    session = uow.session
    part = lookups.load_participation(session, institution_id, participation_id,
                                      for_update=True)
    subjects, exemptions = rules.check_package(subjects, exemptions)
    number, _dept, project = _participation_context(session, part)
    if subjects != list(part.subjects or []) or exemptions != list(part.exemptions or []):
        part.subjects, part.exemptions = subjects, exemptions
        part.updated_at = utcnow()
        uow.add_event("package_changed", part.institution_id, {
            "participation_id": part.id, "project_id": project.id, "student_number": number,
            "subjects": subjects, "exemptions": exemptions, "reason": "set"})
        uow.commit()
    return lookups.package_view(part, number)


# --- groups -------------------------------------------------------------------------------

def create_group(uow, institution_id, project_id, data):
    session = uow.session
    project = lookups.load_project(session, institution_id, project_id)
    clean = rules.check_group(data)
    dept = None
    if clean["department"] is not None:
        dept = lookups.departments_of(session, project.id).get(clean["department"])
        if dept is None:
            raise validation_error([rules.department_unknown_item(clean["department"])])
    exists = conflict("group_exists", f"Groep {clean['code']} bestaat al in dit roosterproject.",
                      field="code")
    if session.execute(sa.select(Group.id).where(Group.project_id == project.id,
                                                 Group.code == clean["code"])).first():
        raise exists
    group = Group(institution_id=project.institution_id, project_id=project.id,
                  code=clean["code"], department_id=dept.id if dept else None,
                  kind=clean["kind"], subject=clean["subject"], created_at=utcnow())
    session.add(group)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise exists from None
    uow.commit()
    return lookups.group_view(group, dept.code if dept else None, [])


def list_groups(uow, institution_id, project_id, page=1, page_size=500):
    session = uow.session
    project = lookups.load_project(session, institution_id, project_id)
    page, page_size = rules.page_args(page, page_size, default_size=500)
    query = sa.select(Group).where(Group.project_id == project.id)
    total = session.execute(
        sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    items = list(session.execute(query.order_by(Group.code).limit(page_size)
                                 .offset((page - 1) * page_size)).scalars())
    codes = _department_codes(session, [g.department_id for g in items])
    members = lookups.members_of(session, [g.id for g in items])
    return lookups.page_result(
        [lookups.group_view(g, codes.get(g.department_id), members[g.id]) for g in items],
        total, page, page_size)


def set_group_members(uow, institution_id, group_id, student_numbers, actor=None):
    """Replace a group's members. Each must have a participation in the
    group's project (in the group's department for a home-class group);
    errors name the 1-based position as `row`. For a home-class group the
    members' participations get this home class (and leave their other
    home-class group); removed members lose it."""
    session = uow.session
    group = lookups.load_group(session, institution_id, group_id)
    numbers, errors = rules.clean_student_numbers(student_numbers)
    rows = _placed(session, group, numbers)
    codes = _department_codes(session, [group.department_id])
    dept_code = codes.get(group.department_id)
    if group.kind == "home_class" and group.department_id is not None:
        authority = session.execute(sa.select(Department.home_class_authority).where(
            Department.id == group.department_id)).scalar_one()
        rules.check_home_class_authority(actor, authority, dept_code)
    for index, number in enumerate(numbers, 1):
        found = rows.get(number)
        if found is None:
            errors.append(error_item("student_unknown", f"Er is geen leerling met "
                                     f"leerlingnummer {number}.", field="student_numbers",
                                     row=index))
        elif found[1] is None:
            errors.append(error_item("not_participating", f"Leerling {number} heeft geen "
                                     f"afdelingsdeelname in dit roosterproject.",
                                     field="student_numbers", row=index))
        elif group.kind == "home_class" and found[2] != group.department_id:
            errors.append(error_item("not_in_department", f"Leerling {number} zit niet in "
                                     f"afdeling {dept_code}.", field="student_numbers",
                                     row=index))
    if errors:
        raise validation_error(sorted(errors, key=lambda e: e.get("row") or 0))

    old = set(lookups.members_of(session, [group.id])[group.id])
    new = set(numbers)
    added, removed = new - old, old - new
    if removed and group.kind == "home_class":
        rows.update(_placed(session, group, sorted(removed)))
    if not added and not removed:
        return lookups.group_view(group, dept_code, lookups.members_of(session, [group.id])
                                  [group.id])
    session.execute(sa.delete(group_members).where(group_members.c.group_id == group.id))
    if numbers:
        session.execute(sa.insert(group_members),
                        [{"group_id": group.id, "student_id": rows[n][0]} for n in numbers])
    if group.kind == "home_class":
        _apply_home_class_group(uow, group, dept_code, rows, added, removed)
    _members_event(uow, group, dept_code, added, removed)
    uow.commit()
    return lookups.group_view(group, dept_code, lookups.members_of(session, [group.id])
                              [group.id])


def _placed(session, group, numbers):
    """{student_number: (student_id, participation_id or None, department_id or None)}
    in the group's project, for the institution's students among `numbers`."""
    rows = {}
    for chunk in lookups.chunks(numbers):
        for number, student_id, part_id, dept_id in session.execute(
                sa.select(Student.student_number, Student.id, Participation.id,
                          Participation.department_id)
                .outerjoin(Participation, sa.and_(Participation.student_id == Student.id,
                                                  Participation.project_id == group.project_id))
                .where(Student.institution_id == group.institution_id,
                       Student.student_number.in_(chunk))):
            rows[number] = (student_id, part_id, dept_id)
    return rows


def _apply_home_class_group(uow, group, dept_code, rows, added, removed):
    session = uow.session
    now = utcnow()
    if added:
        added_ids = [rows[n][0] for n in added]
        # a student has one home class: leave the project's other home-class groups
        others = list(session.execute(
            sa.select(Group).join(group_members, group_members.c.group_id == Group.id)
            .where(Group.project_id == group.project_id, Group.kind == "home_class",
                   Group.id != group.id, group_members.c.student_id.in_(added_ids))
            .distinct()).scalars())
        if others:
            left = {}
            for other in others:
                ids = set(session.execute(sa.select(group_members.c.student_id).where(
                    group_members.c.group_id == other.id,
                    group_members.c.student_id.in_(added_ids))).scalars())
                left[other.id] = ids
            session.execute(sa.delete(group_members).where(
                group_members.c.group_id.in_([o.id for o in others]),
                group_members.c.student_id.in_(added_ids)))
            by_id = {rows[n][0]: n for n in added}
            codes = _department_codes(session, [o.department_id for o in others])
            for other in others:
                _members_event(uow, other, codes.get(other.department_id), [],
                               [by_id[i] for i in left[other.id]])
    changed = [(n, group.code) for n in added] + [(n, None) for n in removed]
    for number, home_class in changed:
        part_id = rows[number][1] if number in rows else None
        part = session.get(Participation, part_id) if part_id is not None else None
        if part is None:  # a removed member whose participation is gone
            continue
        if number in removed and part.home_class != group.code:
            continue
        if part.home_class != home_class:
            old = part.home_class
            part.home_class = home_class
            part.updated_at = now
            _home_class_event(uow, part, number, dept_code, old, home_class)


# --- export -------------------------------------------------------------------------------

PLACEMENTS_HEADER = ("leerlingnummer", "afdeling", "leerpad", "elementcode")


def placements_csv(uow, institution_id, project_id):
    """`leerlingnummer;afdeling;leerpad;elementcode` per participation (UTF-8
    text, CRLF line ends, sorted by student number) for the administration."""
    session = uow.session
    project = lookups.load_project(session, institution_id, project_id)
    departments = {d.id: d for d in lookups.departments_of(session, project.id).values()}
    rows = session.execute(
        sa.select(Student.student_number, Participation.department_id,
                  Participation.learning_path)
        .join(Student, Student.id == Participation.student_id)
        .where(Participation.project_id == project.id)
        .order_by(sa.func.length(Student.student_number), Student.student_number)).all()
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(PLACEMENTS_HEADER)
    for number, dept_id, path in rows:
        dept = departments[dept_id]
        element = next((p.get("element_code") for p in dept.learning_paths or []
                        if p.get("code") == path), None) if path else None
        writer.writerow([number, dept.code, path or "", element or ""])
    return out.getvalue()


def participations_in(session, student_id, project_ids):
    """[(Participation, department code, Project)] of a student in these projects."""
    if not project_ids:
        return []
    return list(session.execute(
        sa.select(Participation, Department.code, Project)
        .join(Department, Department.id == Participation.department_id)
        .join(Project, Project.id == Participation.project_id)
        .where(Participation.student_id == student_id,
               Participation.project_id.in_(list(project_ids)))
        .order_by(Project.school_year, Participation.id)).all())

