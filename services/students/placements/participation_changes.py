"""Changing and removing a participation."""
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.common.errors import forbidden, validation_error
from services.common.outbox import utcnow

from .. import lookups, rules
from ..models import participations
from .memberships import _home_class_event, _sync_home_class_group, drop_memberships
from .participations import _lock_student, _participation_context, _student_parts


def update_participation(uow, institution_id, participation_id, changes, actor=None):
    """Change a participation. A new department needs `keep_package` (the
    package is wiped when false); a department the student already has in the
    project is 409 participation_exists. A change of department or forecast
    is checked with the student's other participations in the project (the
    forecast rules, rules.forecast_errors). A department change drops the
    student's group memberships as the package docstring says (`_drop_for`):
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
