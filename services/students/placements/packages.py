"""A participation's package: subjects and exemptions."""
from services.common.outbox import utcnow

from .. import lookups, rules
from .participations import _participation_context


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
