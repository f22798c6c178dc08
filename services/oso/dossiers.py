"""Reading the stored dossier, its source file and attachments, and the
school's report on it (soft data, finalizing).
"""

import sqlalchemy as sa

from services.common.errors import DomainError, conflict, not_found
from services.common.outbox import utcnow
from services.common.times import iso

from . import codelists, rules
from .helpers import actor_code, record_audit, rule_error
from .models import Attachment
from .worklist import dossier_of, entry_dict, entry_or_404


def dossier_or_404(session, institution_id, number):
    entry = entry_or_404(session, institution_id, number)
    d = dossier_of(session, entry.id)
    if d is None:
        raise DomainError("dossier_not_fetched",
                          "Voor deze leerling is nog geen OSO-dossier opgehaald. Voer eerst de "
                          "actie 'importeren' uit.", status=404)
    return entry, d


def dossier_dict(entry, d):
    return {
        **entry_dict(entry, d),
        "source_file": {"origin": d.origin, "size": len(d.xml or b""), "sha256": d.xml_sha256,
                        "content_type": "application/xml"},
        "validation": {**(d.validation or {}), "meldingen": d.meldingen or []},
        "report": {"definitive": bool(d.definitive), "finalized_at": iso(d.finalized_at),
                   "finalized_by": d.finalized_by, "soft": d.soft or {}},
        "outcome": d.outcome,
        "applied_at": iso(d.applied_at),
        "enrolled_at": iso(d.enrolled_at),
        "data": d.hard,
        "labels": codelists.labels_for(d.hard),
        "attachments": d.hard.get("attachments") or [],
    }


def _audited_read(uow, institution_id, actor, action, entry, result, detail=None):
    """`result`, the read committed to the audit trail."""
    record_audit(uow.session, institution_id, actor, action, entry.id, detail=detail)
    uow.commit()
    return result


def get_dossier(uow, institution_id, number, actor=None):
    entry, d = dossier_or_404(uow.session, institution_id, number)
    return _audited_read(uow, institution_id, actor, "dossier_read", entry, dossier_dict(entry, d))


def get_source_file(uow, institution_id, number, actor=None):
    entry, d = dossier_or_404(uow.session, institution_id, number)
    return _audited_read(uow, institution_id, actor, "source_read", entry, {
        "filename": f"oso-dossier-{entry.id}.xml", "content_type": "application/xml",
        "data": d.xml})


def get_attachment(uow, institution_id, number, ref, actor=None):
    session = uow.session
    entry, d = dossier_or_404(session, institution_id, number)
    att = session.execute(sa.select(Attachment).where(
        Attachment.dossier_id == d.id, Attachment.ref == str(ref))).scalar_one_or_none()
    if att is None:
        raise not_found("attachment", "Deze bijlage bestaat niet in het dossier.")
    return _audited_read(uow, institution_id, actor, "attachment_read", entry, {
        "filename": att.filename, "content_type": att.content_type, "size": att.size,
        "description": att.description, "data": att.content}, detail=att.ref)


def update_report(uow, institution_id, number, changes, actor=None):
    """Change the soft data (the school's own notes). Locked once definitive."""
    session = uow.session
    entry, d = dossier_or_404(session, institution_id, number)
    if d.definitive:
        raise conflict("report_definitive",
                       "Het rapport is definitief en kan niet meer worden gewijzigd.")
    try:
        d.soft = rules.clean_soft(changes, d.soft)
    except rules.RuleError as exc:
        raise rule_error(exc) from None
    d.updated_at = utcnow()
    record_audit(session, institution_id, actor, "report_update", entry.id)
    session.flush()
    result = dossier_dict(entry, d)["report"]
    uow.commit()
    return result


def finalize_report(uow, institution_id, number, actor=None):
    """Make the report definitive (idempotent): from now on a fetch only
    supplements or overwrites the final-test data."""
    session = uow.session
    entry, d = dossier_or_404(session, institution_id, number)
    if not d.definitive:
        d.definitive, d.finalized_at, d.finalized_by = True, utcnow(), actor_code(actor)
        d.updated_at = d.finalized_at
        record_audit(session, institution_id, actor, "report_finalize", entry.id)
    session.flush()
    result = dossier_dict(entry, d)
    uow.commit()
    return result
