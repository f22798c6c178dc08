"""Participations: placing students in departments, checking new ones, and
reading them."""
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.common.errors import DomainError, conflict, error_item, validation_error
from services.common.outbox import utcnow

from .. import lookups, rules
from ..models import Department, Participation, Project, Student
from .memberships import _sync_home_class_group


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
