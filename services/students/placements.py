"""Use cases of placements: projects, departments (with learning paths),
participations, packages, groups and the placements export.

Each function takes an entered UnitOfWork, does one command or query, commits
with its events where it changes something, and returns plain JSON-able
values. Rules live in rules.py.

A student has at most one participation per department of a project and may
have several in one project (next year's forecasts: 60% h4, 40% v4); then each
needs a forecast and together they are at most 100 (rules.forecast_errors).
Every change that adds a participation or changes a forecast or department is
checked over all of the student's participations in the project, with the
student's row locked so two requests cannot each add "the second" one.

Home classes and home-class groups are kept in agreement, per department: a
participation's `home_class` names the home-class group of its department the
student is a member of (a student in two departments may be in one home-class
group of each). Setting a participation's home class moves the membership
within its department when such a group exists; setting the members of a
home-class group sets the home class of those students' participations in the
group's department.

Group memberships when a participation changes department or goes away
(`_drop_for`): the student leaves every group of the project except those of
the departments of their other (remaining) participations; groups without a
department (clusters across departments) are left only when no other
participation remains, because they cannot be told apart by department. With
one participation per student this is what it always was: a department change
or removal drops every membership in the project. The home-class value itself
stays until it is changed, as in the portal this mirrors.
"""
import csv
import io

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.common.errors import (DomainError, conflict, error_item, forbidden, not_found,
                                    validation_error)
from services.common.outbox import utcnow
from services.common import safecells

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


def drop_memberships(uow, project_id, student_id, student_number, keep_department_ids=(),
                     keep_departmentless=False):
    """Remove the student from the groups of the project, except groups of
    `keep_department_ids` and, with `keep_departmentless`, groups without a
    department; one group_members_changed per group. Returns the codes."""
    session = uow.session
    keep = set(keep_department_ids)
    dropped = [g for g in lookups.groups_of_student(session, project_id, student_id)
               if not (g.department_id in keep
                       or (g.department_id is None and keep_departmentless))]
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
    """Make the student's home-class group membership in the participation's
    department agree with `home_class`: leave the department's other
    home-class groups, join the group with that code when it exists. Home-class
    groups of the student's other departments are not touched."""
    session = uow.session
    current = [g for g in lookups.groups_of_student(session, part.project_id, part.student_id)
               if g.kind == "home_class" and g.department_id == part.department_id]
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


def _student_parts(session, project_id, student_id, exclude_id=None):
    """[(Participation, department code)] of a student in a project, by code."""
    query = (sa.select(Participation, Department.code)
             .join(Department, Department.id == Participation.department_id)
             .where(Participation.project_id == project_id,
                    Participation.student_id == student_id))
    if exclude_id is not None:
        query = query.where(Participation.id != exclude_id)
    return list(session.execute(query.order_by(Department.code)).all())


def _lock_student(session, student_id):
    """Lock the student's row for the rest of the transaction (PostgreSQL; SQLite
    has one writer anyway): changes to one student's participations in a
    project are checked as a whole, so they go one after the other."""
    session.execute(sa.select(Student.id).where(Student.id == student_id).with_for_update())


def _insert_participations(uow, project, departments, student, number, cleans):
    """Insert new participations of one student after checking them with the
    student's existing ones in the project (409 participation_exists, 422
    forecast rules). Does not commit. Returns [(Participation, Department)]."""
    session = uow.session
    _lock_student(session, student.id)
    existing = _student_parts(session, project.id, student.id)
    rules.check_student_participations(
        number, [{"department": code, "forecast": part.forecast} for part, code in existing]
        + [{"department": c["department"], "forecast": c["forecast"]} for c in cleans])
    now = utcnow()
    created = []
    for clean in cleans:
        dept = departments[clean["department"]]
        part = Participation(
            institution_id=project.institution_id, project_id=project.id,
            student_id=student.id, department_id=dept.id, forecast=clean["forecast"],
            profile=clean["profile"], programme=clean["programme"],
            learning_path=clean["learning_path"], home_class=clean["home_class"],
            lwoo=clean["lwoo"], subjects=[], exemptions=[], created_at=now, updated_at=now)
        session.add(part)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            raise rules.participation_exists(number, dept.code) from None
        created.append((part, dept))
    for part, dept in created:
        uow.add_event("participation_created", part.institution_id,
                      _participation_data(part, number, dept.code, project))
        if part.home_class is not None:
            _sync_home_class_group(uow, part, number, part.home_class)
    return created


def _find_student(session, project, number, errors, field="student_number"):
    student = session.execute(sa.select(Student).where(
        Student.institution_id == project.institution_id,
        Student.student_number == number)).scalar_one_or_none()
    if student is None:
        errors.append(error_item("student_unknown", f"Er is geen leerling met "
                                 f"leerlingnummer {number}.", field=field))
    return student


def create_participation(uow, institution_id, project_id, data, actor=None):
    """Place a student in a department of a project. A student may be placed
    in several departments of one project (once per department: 409
    participation_exists); with several, each needs a forecast and together
    they are at most 100 (422 forecast_required / forecast_total_exceeded)."""
    session = uow.session
    project = lookups.load_project(session, institution_id, project_id)
    departments = lookups.departments_of(session, project.id)
    errors = []
    number = None
    if isinstance(data, dict):
        number = rules.clean_student_number(data.get("student_number"), errors)
    clean, part_errors = rules.check_participation(data, lookups.department_dicts(departments))
    errors.extend(part_errors)
    student = _find_student(session, project, number, errors) if number is not None else None
    if errors:
        raise validation_error(errors)
    dept = departments[clean["department"]]
    if clean["home_class"] is not None:
        rules.check_home_class_authority(actor, dept.home_class_authority, dept.code)
    ((part, dept),) = _insert_participations(uow, project, departments, student, number,
                                             [clean])
    uow.commit()
    return lookups.participation_view(part, number, dept.code, project.school_year)


def place_student(uow, institution_id, project_id, rows):
    """The participations of one student in a project from an import: `rows`
    (1-based positions, as `row` in errors) all name the same student, each a
    department of its own. All or nothing. A student who has any participation
    in the project already is not changed (409 participation_exists: "niet
    bijgewerkt", the manual's rule for imports); otherwise the rows are
    checked together (forecasts over the student's departments)."""
    session = uow.session
    project = lookups.load_project(session, institution_id, project_id)
    departments = lookups.departments_of(session, project.id)
    dept_dicts = lookups.department_dicts(departments)
    errors, cleans, numbers = [], [], []
    for index, data in enumerate(rows or [], 1):
        local = []
        number = None
        if isinstance(data, dict):
            number = rules.clean_student_number(data.get("student_number"), local)
        clean, part_errors = rules.check_participation(data, dept_dicts)
        local.extend(part_errors)
        errors.extend({**e, "row": index} for e in local)
        cleans.append(clean)
        numbers.append(number)
    distinct = {n for n in numbers if n is not None}
    if len(distinct) > 1:
        raise ValueError("place_student takes the rows of one student")
    number = next(iter(distinct), None)
    if errors or number is None:
        raise validation_error(errors or [rules.required_item("student_number")])
    student = _find_student(session, project, number, errors)
    if errors:  # an unknown student: every row says so
        raise validation_error([{**e, "row": index} for index in range(1, len(cleans) + 1)
                                for e in errors])
    if _student_parts(session, project.id, student.id):
        raise conflict("participation_exists",
                       f"Leerling {number} heeft al een afdelingsdeelname in dit "
                       f"roosterproject; niet bijgewerkt.", field="student_number")
    positions = {}
    for index, clean in enumerate(cleans, 1):
        if clean["department"] in positions:
            raise validation_error([error_item(
                "duplicate_row", f"Leerling {number} staat twee keer in afdeling "
                f"{clean['department']} (ook in regel {positions[clean['department']]}).",
                field="department", row=index)])
        positions[clean["department"]] = index
    try:
        created = _insert_participations(uow, project, departments, student, number, cleans)
    except DomainError as exc:
        if exc.status != 422:
            raise
        # forecast errors name a department (None: the total, every row)
        items = [{**e, "row": positions[e["department"]]} if e.get("department")
                 in positions else e for e in exc.errors]
        raise validation_error(items) from None
    uow.commit()
    return [lookups.participation_view(part, number, dept.code, project.school_year)
            for part, dept in created]


def check_new_participations(uow, institution_id, project_id, rows):
    """The forecast rules over rows that would place students in a project,
    without changing anything (an import's preview): `rows` are
    [{"row", "student_number", "department", "forecast"}], several per
    student allowed. Answers {"errors": [{row, field, code, message}]}: a
    forecast error about one department goes to that row, one about the
    total to every row of the student. Students' existing participations are
    not counted (an import leaves a placed student alone). A home class in a
    department whose home classes the desktop leads is refused on its row
    (home_class_desktop_led), as it is for a person placing one student."""
    project = lookups.load_project(uow.session, institution_id, project_id)
    departments = lookups.departments_of(uow.session, project.id)
    errors = []
    for row in rows or []:
        dept = departments.get(row.get("department")) if isinstance(row, dict) else None
        if dept is not None and row.get("home_class") and dept.home_class_authority == "desktop":
            message = rules.message("home_class_desktop_led", department=dept.code)
            errors.append({"row": row.get("row"), "field": "home_class",
                           "code": "home_class_desktop_led", "message": message})
    by_student = {}
    for row in rows or []:
        if isinstance(row, dict) and isinstance(row.get("student_number"), str):
            by_student.setdefault(row["student_number"], []).append(row)
    for number, own in by_student.items():
        for item_ in rules.forecast_errors(number, own):
            for row in own:
                if item_["department"] is None or item_["department"] == row.get("department"):
                    errors.append({"row": row.get("row"), "field": item_["field"],
                                   "code": item_["code"], "message": item_["message"]})
    errors.sort(key=lambda e: (e["row"] is None, e["row"] or 0))
    return {"errors": errors}


def list_participations(uow, institution_id, project_id, department=None, page=1,
                        page_size=50, student_number=None, home_class=None, users=None):
    """A project's participations by department, then student number;
    `department`, `student_number` and `home_class` narrow the list (a
    student placed in several departments has one item per department). With
    `users` (the users service) each item carries the student's name."""
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
    if student_number is not None:
        query = query.where(Student.student_number
                            == (lookups.student_number_arg(student_number) or ""))
    if home_class is not None:
        try:
            wanted = rules.text(home_class)
        except rules.InvalidValue:
            wanted = None
        query = query.where(sa.func.lower(Participation.home_class) == (wanted or "").lower())
    total = session.execute(
        sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(
        query.order_by(Department.code, sa.func.length(Student.student_number),
                       Student.student_number)
        .limit(page_size).offset((page - 1) * page_size)).all()
    items = [lookups.participation_view(part, number, code, project.school_year)
             for part, number, code in rows]
    if users is not None and items:
        session.commit()  # end the read before asking the users service
        people = {u["code"]: u for u in users.get_users(
            project.institution_id, list(dict.fromkeys(i["student_number"] for i in items)))}
        for view in items:
            person = people.get(view["student_number"]) or {}
            view.update({k: person.get(k) for k in ("first_name", "prefix", "last_name")})
    return lookups.page_result(items, total, page, page_size)


def list_student_participations(uow, institution_id, student_number, page=1, page_size=50):
    """Every participation of one student, in every project of the school:
    newest school year first, then branch, then department (404 for a student
    of another institution, as for a missing one)."""
    session = uow.session
    student = lookups.load_student(session, institution_id, student_number)
    page, page_size = rules.page_args(page, page_size)
    query = (sa.select(Participation, Department.code, Project)
             .join(Department, Department.id == Participation.department_id)
             .join(Project, Project.id == Participation.project_id)
             .where(Participation.student_id == student.id))
    total = session.execute(
        sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(
        query.order_by(Project.school_year.desc(), Project.branch, Project.id, Department.code)
        .limit(page_size).offset((page - 1) * page_size)).all()
    items = []
    for part, code, project in rows:
        view = lookups.participation_view(part, student.student_number, code,
                                          project.school_year)
        view["project_name"] = project.name
        view["branch"] = project.branch
        items.append(view)
    return lookups.page_result(items, total, page, page_size)


def get_participation(uow, institution_id, participation_id):
    part = lookups.load_participation(uow.session, institution_id, participation_id)
    number, dept, project = _participation_context(uow.session, part)
    return lookups.participation_view(part, number, dept.code, project.school_year)


def update_participation(uow, institution_id, participation_id, changes, actor=None):
    """Change a participation. A new department needs `keep_package` (the
    package is wiped when false); a department the student already has in the
    project is 409 participation_exists. A change of department or forecast
    is checked with the student's other participations in the project (the
    forecast rules, rules.forecast_errors). A department change drops the
    student's group memberships as the module docstring says (`_drop_for`):
    those of the old department and, when this is the student's only
    participation, every other one in the project. A mentor (without admin) may
    change only forecast and home_class (403 otherwise); nobody changes a home
    class where the desktop leads the department's home classes (409)."""
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

    others = []
    if "department" in updates or "forecast" in updates:
        _lock_student(session, part.student_id)
        others = _student_parts(session, project.id, part.student_id, exclude_id=part.id)
        rules.check_student_participations(
            number, [{"department": code, "forecast": other.forecast} for other, code in others]
            + [{"department": updates.get("department", dept.code),
                "forecast": updates.get("forecast", part.forecast)}])

    event_changes = {field: [current[field], new] for field, new in updates.items()}
    extra = {}
    new_dept = dept
    if "department" in updates:
        new_dept = departments[updates["department"]]
        part.department_id = new_dept.id
        extra["dropped_groups"] = _drop_for(uow, project.id, part.student_id, number, others)
        extra["package"] = "kept" if keep_package else "wiped"
        if not keep_package and (part.subjects or part.exemptions):
            part.subjects, part.exemptions = [], []
            uow.add_event("package_changed", part.institution_id, {
                "participation_id": part.id, "project_id": project.id,
                "student_number": number, "department": new_dept.code, "subjects": [],
                "exemptions": [], "reason": "department_changed"})
    for field in ("forecast", "profile", "programme", "learning_path", "home_class", "lwoo"):
        if field in updates:
            setattr(part, field, updates[field])
    part.updated_at = utcnow()
    try:
        session.flush()
    except IntegrityError:  # the department was taken at the same moment
        session.rollback()
        raise rules.participation_exists(number, new_dept.code) from None
    uow.add_event("participation_changed", part.institution_id, {
        "participation_id": part.id, "project_id": project.id,
        "school_year": project.school_year, "student_number": number,
        "department": new_dept.code, "changes": event_changes, **extra})
    if "home_class" in updates:
        _home_class_event(uow, part, number, new_dept.code, current["home_class"],
                          updates["home_class"])
        _sync_home_class_group(uow, part, number, part.home_class)
    uow.commit()
    return lookups.participation_view(part, number, new_dept.code, project.school_year)


def _drop_for(uow, project_id, student_id, number, others):
    """Drop the memberships a participation leaving its department takes along:
    every group of the project except those of the departments of `others`
    (the student's remaining participations, [(Participation, code)]) and,
    when there are others, groups without a department."""
    return drop_memberships(uow, project_id, student_id, number,
                            keep_department_ids={other.department_id for other, _c in others},
                            keep_departmentless=bool(others))


def remove_participation(uow, part, number, dept_code, project, reason):
    """Drop the group memberships this participation takes along (`_drop_for`)
    and the participation (package included); emits participation_removed.
    Does not commit."""
    others = _student_parts(uow.session, project.id, part.student_id, exclude_id=part.id)
    _drop_for(uow, project.id, part.student_id, number, others)
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
    number, dept, project = _participation_context(session, part)
    if subjects != list(part.subjects or []) or exemptions != list(part.exemptions or []):
        part.subjects, part.exemptions = subjects, exemptions
        part.updated_at = utcnow()
        uow.add_event("package_changed", part.institution_id, {
            "participation_id": part.id, "project_id": project.id, "student_number": number,
            "department": dept.code, "subjects": subjects, "exemptions": exemptions,
            "reason": "set"})
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
    group's project (in the group's department for a home-class group: a
    student placed in several departments counts with that one); errors name
    the 1-based position as `row`. For a home-class group the members'
    participations in its department get this home class (and leave the
    department's other home-class groups); removed members lose it."""
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
        elif not found[1]:
            errors.append(error_item("not_participating", f"Leerling {number} heeft geen "
                                     f"afdelingsdeelname in dit roosterproject.",
                                     field="student_numbers", row=index))
        elif group.kind == "home_class" and group.department_id not in found[1]:
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
    """{student_number: (student_id, {department_id: participation_id})} in the
    group's project, for the institution's students among `numbers` (an empty
    dict: not placed in the project)."""
    rows = {}
    for chunk in lookups.chunks(numbers):
        for number, student_id, part_id, dept_id in session.execute(
                sa.select(Student.student_number, Student.id, Participation.id,
                          Participation.department_id)
                .outerjoin(Participation, sa.and_(Participation.student_id == Student.id,
                                                  Participation.project_id == group.project_id))
                .where(Student.institution_id == group.institution_id,
                       Student.student_number.in_(chunk))):
            _sid, parts = rows.setdefault(number, (student_id, {}))
            if part_id is not None:
                parts[dept_id] = part_id
    return rows


def _apply_home_class_group(uow, group, dept_code, rows, added, removed):
    session = uow.session
    now = utcnow()
    if added:
        added_ids = [rows[n][0] for n in added]
        # one home class per department: leave the department's other home-class groups
        others = list(session.execute(
            sa.select(Group).join(group_members, group_members.c.group_id == Group.id)
            .where(Group.project_id == group.project_id, Group.kind == "home_class",
                   Group.department_id == group.department_id,
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
        part_id = rows[number][1].get(group.department_id) if number in rows else None
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
    text, CRLF line ends; a formula-like value gets a leading apostrophe,
    services/common/safecells.py) for the administration: one row per participation
    (a student in two departments has two), sorted by student number, then
    department."""
    session = uow.session
    project = lookups.load_project(session, institution_id, project_id)
    departments = {d.id: d for d in lookups.departments_of(session, project.id).values()}
    rows = session.execute(
        sa.select(Student.student_number, Participation.department_id,
                  Participation.learning_path)
        .join(Student, Student.id == Participation.student_id)
        .join(Department, Department.id == Participation.department_id)
        .where(Participation.project_id == project.id)
        .order_by(sa.func.length(Student.student_number), Student.student_number,
                  Department.code)).all()
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(safecells.csv_row(PLACEMENTS_HEADER))
    for number, dept_id, path in rows:
        dept = departments[dept_id]
        element = next((p.get("element_code") for p in dept.learning_paths or []
                        if p.get("code") == path), None) if path else None
        writer.writerow(safecells.csv_row([number, dept.code, path, element]))
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

