"""Projects and their departments (with learning paths)."""
import sqlalchemy as sa

from services.common.errors import conflict, not_found, validation_error
from services.common.outbox import utcnow

from .. import lookups, rules
from ..models import Department, Participation, Project


def create_project(uow, institution_id, data):
    iid = lookups.institution_id_of(institution_id)
    clean = rules.check_project(data)
    exists = conflict("project_exists", f"Er bestaat al een roosterproject voor schooljaar "
                                        f"{clean['school_year']} en vestiging "
                                        f"{clean['branch']}.", field="school_year")
    taken = sa.select(Project.id).where(
        Project.institution_id == iid, Project.school_year == clean["school_year"],
        Project.branch == clean["branch"])
    project = lookups.add_unique(uow, Project(institution_id=iid, created_at=utcnow(), **clean),
                                 taken, exists)
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
    exists = conflict("department_exists",
                      f"Afdeling {clean['code']} bestaat al in dit roosterproject.", field="code")
    taken = sa.select(Department.id).where(
        Department.project_id == project.id, Department.code == clean["code"])
    dept = lookups.add_unique(uow, Department(project_id=project.id, created_at=utcnow(), **clean),
                              taken, exists)
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
