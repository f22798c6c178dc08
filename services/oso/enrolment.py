"""Enrolling a student from the dossier's personal data."""
import hashlib

from services.common.errors import conflict
from services.common.outbox import utcnow

from . import rules
from .dossiers import dossier_dict, dossier_or_404
from .helpers import record_audit


def enrol_data(uow, institution_id, number, student_number, student_type):
    """The students.create_student data for a fetched student (no change yet)."""
    session = uow.session
    entry, d = dossier_or_404(session, institution_id, number)
    if d.student_number:
        raise conflict("already_enrolled",
                       f"Deze leerling is al ingeschreven met leerlingnummer {d.student_number}.")
    return rules.student_from_dossier(d.hard, entry.kind, entry.number, student_number,
                                      student_type)


def enrol_request_id(institution_id, number, student_number):
    """The students.create_student request id of enrolling this dossier as this
    student number: the same on every retry, so a retry after a crash between
    the create and mark_enrolled answers the student made the first time."""
    digest = hashlib.sha256(f"{institution_id}:{number}:{student_number}".encode())
    return "oso-" + digest.hexdigest()[:40]


def mark_enrolled(uow, institution_id, number, student_number, actor=None):
    session = uow.session
    entry, d = dossier_or_404(session, institution_id, number)
    d.student_number, d.enrolled_at = student_number, utcnow()
    d.updated_at = d.enrolled_at
    record_audit(session, institution_id, actor, "enrol", entry.id, detail=student_number)
    session.flush()
    result = dossier_dict(entry, d)
    uow.commit()
    return result


def enrol(db, students, institution_id, number, data, actor=None):
    """Create the student in the students service from the dossier's personal
    data, then mark the dossier enrolled. No database connection is held
    during the call."""
    data = data or {}
    student_type = data.get("type") or "potential_transfer"
    with db() as uow:
        student_data = enrol_data(uow, institution_id, number, data.get("student_number"),
                                  student_type)
    student = students.create_student(
        institution_id, student_data, actor,
        request_id=enrol_request_id(institution_id, number, student_data.get("student_number")))
    with db() as uow:
        dossier = mark_enrolled(uow, institution_id, number,
                                student.get("student_number") or student_data["student_number"],
                                actor)
    return {"student": student, "dossier": dossier}
