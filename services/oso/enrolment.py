"""Enrolling a student from the dossier's personal data."""


from services.common.errors import conflict
from services.common.outbox import utcnow

from . import rules
from .dossiers import _dossier_or_404, dossier_dict
from .helpers import _audit


def enrol_data(uow, institution_id, number, student_number, student_type):
    """The students.create_student data for a fetched student (no change yet)."""
    session = uow.session
    entry, d = _dossier_or_404(session, institution_id, number)
    if d.student_number:
        raise conflict("already_enrolled",
                       f"Deze leerling is al ingeschreven met leerlingnummer {d.student_number}.")
    return rules.student_from_dossier(d.hard, entry.kind, entry.number, student_number,
                                      student_type)


def mark_enrolled(uow, institution_id, number, student_number, actor=None):
    session = uow.session
    entry, d = _dossier_or_404(session, institution_id, number)
    d.student_number, d.enrolled_at = student_number, utcnow()
    d.updated_at = d.enrolled_at
    _audit(session, institution_id, actor, "enrol", entry.id, detail=student_number)
    session.flush()
    result = dossier_dict(entry, d)
    uow.commit()
    return result
