"""The OSO worklist: the students whose dossiers the school wants.

No BSN is ever logged or put in an event: events name the worklist entry id.
"""
import base64
import binascii

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.common.errors import DomainError, conflict, error_item, not_found
from services.common.ids import IdentifierError, normalize_onderwijsnummer
from services.common.outbox import utcnow
from services.common.times import iso

from . import rules
from .helpers import identifier_or_422, record_audit, rule_error
from .models import Attachment, BatchItem, Dossier, WorklistEntry


STATUS_NL = {"not_fetched": "Dossier nog niet opgehaald", "queued": "In de wachtrij",
             "fetching": "Wordt opgehaald", "fetched": "Opgehaald", "failed": "Mislukt"}


def find_entry(session, institution_id, number, lock=False):
    try:
        _kind, number = rules.student_identifier(number)
    except IdentifierError:
        return None
    q = sa.select(WorklistEntry).where(WorklistEntry.institution_id == institution_id,
                                       WorklistEntry.number == number)
    if lock:
        q = q.with_for_update()
    return session.execute(q).scalar_one_or_none()


def entry_or_404(session, institution_id, number):
    entry = find_entry(session, institution_id, number)
    if entry is None:
        raise not_found("worklist_entry", "Deze leerling staat niet op de OSO-werklijst.")
    return entry


def dossier_of(session, entry_id):
    return session.execute(sa.select(Dossier).where(Dossier.worklist_id == entry_id)
                           ).scalar_one_or_none()


def status_label(entry):
    if entry.status == "fetched" and entry.fetched_at:
        return f"Opgehaald op {entry.fetched_at.date().isoformat()}"
    if entry.status == "failed":
        return f"Mislukt: {entry.status_message}" if entry.status_message else "Mislukt"
    return STATUS_NL.get(entry.status, entry.status)


def entry_dict(entry, dossier=None):
    has_dossier = dossier is not None
    return {
        "id": entry.id,
        "bsn": entry.number if entry.kind == "bsn" else None,
        "onderwijsnummer": entry.number if entry.kind == "onderwijsnummer" else None,
        "number": entry.number, "kind": entry.kind,
        "status": entry.status, "status_label": status_label(entry),
        "status_code": entry.status_code, "status_message": entry.status_message,
        "last_action": entry.last_action, "last_action_at": iso(entry.last_action_at),
        "fetched_at": iso(entry.fetched_at), "dossier_date": iso(entry.dossier_date),
        "default_action": rules.default_action(has_dossier),
        "has_dossier": has_dossier,
        "definitive": bool(dossier.definitive) if has_dossier else False,
        "student_number": dossier.student_number if has_dossier else None,
        "created_at": iso(entry.created_at),
    }


def list_worklist(uow, institution_id, page=1, page_size=50, status=None):
    session = uow.session
    q = sa.select(WorklistEntry, Dossier).outerjoin(
        Dossier, Dossier.worklist_id == WorklistEntry.id).where(
        WorklistEntry.institution_id == institution_id)
    count = sa.select(sa.func.count()).select_from(WorklistEntry).where(
        WorklistEntry.institution_id == institution_id)
    if status:
        q = q.where(WorklistEntry.status == status)
        count = count.where(WorklistEntry.status == status)
    total = session.execute(count).scalar_one()
    rows = session.execute(q.order_by(WorklistEntry.created_at, WorklistEntry.id)
                           .offset((page - 1) * page_size).limit(page_size)).all()
    return {"items": [entry_dict(e, d) for e, d in rows], "total": total, "page": page,
            "page_size": page_size}


def _new_entry(institution_id, kind, number):
    return WorklistEntry(institution_id=institution_id, number=number, kind=kind,
                         status="not_fetched", created_at=utcnow())


def add_to_worklist(uow, institution_id, data, actor=None):
    data = data or {}
    if data.get("bsn") not in (None, ""):
        kind, number = identifier_or_422(data["bsn"], "bsn")
    elif data.get("onderwijsnummer") not in (None, ""):
        try:
            kind, number = "onderwijsnummer", normalize_onderwijsnummer(data["onderwijsnummer"])
        except IdentifierError:
            msg = "Dit is geen geldig onderwijsnummer (9 cijfers, beginnend met 10, 11-proef)."
            raise DomainError("onderwijsnummer_invalid", msg, status=422,
                              field="onderwijsnummer",
                              errors=[error_item("onderwijsnummer_invalid", msg,
                                                 field="onderwijsnummer")]) from None
    else:
        msg = "Geef het BSN (of het onderwijsnummer) van de leerling op."
        raise DomainError("required", msg, status=422, field="bsn",
                          errors=[error_item("required", msg, field="bsn")])
    session = uow.session
    if find_entry(session, institution_id, number) is not None:
        raise conflict("already_on_worklist", "Deze leerling staat al op de OSO-werklijst.",
                       field=kind)
    entry = _new_entry(institution_id, kind, number)
    session.add(entry)
    try:
        session.flush()
    except IntegrityError:
        uow.rollback()
        raise conflict("already_on_worklist", "Deze leerling staat al op de OSO-werklijst.",
                       field=kind) from None
    record_audit(session, institution_id, actor, "worklist_add", entry.id)
    result = entry_dict(entry)
    uow.commit()
    return result


def import_worklist(uow, institution_id, filename, file, actor=None, files=None):
    """Add the numbers of an .xlsx with a `BSN` column; invalid numbers and
    duplicates are reported by row, the valid ones added. `file`: a reference
    to an incoming file of the file store `files` (read, then deleted), or
    base64 text."""
    name = (filename or "").lower()
    if name and not name.endswith((".xlsx", ".xlsm")):
        if files is not None:
            files.discard(file)
        msg = "Stuur een Excel-bestand (.xlsx) met één kolom met de titel 'BSN'."
        raise DomainError("file_type_invalid", msg, status=415, field="file",
                          errors=[error_item("file_type_invalid", msg, field="file")])
    if isinstance(file, dict) and files is not None:
        content = files.take(file)
    else:
        try:
            content = base64.b64decode(file or "", validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise DomainError("file_type_invalid", "Het bestand kon niet worden gelezen.",
                              status=415, field="file") from None
    try:
        entries, errors = rules.read_worklist_xlsx(content)
    except rules.RuleError as exc:
        raise rule_error(exc) from None
    session = uow.session
    existing = set()
    numbers = [n for _r, _k, n in entries]
    for start in range(0, len(numbers), 1000):
        chunk = numbers[start:start + 1000]
        existing.update(session.execute(sa.select(WorklistEntry.number).where(
            WorklistEntry.institution_id == institution_id,
            WorklistEntry.number.in_(chunk))).scalars())
    added = []
    for row, kind, number in entries:
        if number in existing:
            errors.append({"row": row, "column": "BSN", "code": "already_on_worklist",
                           "message": f"Rij {row}: deze leerling staat al op de OSO-werklijst."})
            continue
        entry = _new_entry(institution_id, kind, number)
        session.add(entry)
        added.append(entry)
    session.flush()
    for entry in added:
        record_audit(session, institution_id, actor, "worklist_add", entry.id, detail="xlsx")
    result = {"added": len(added), "items": [entry_dict(e) for e in added],
              "errors": sorted(errors, key=lambda e: e["row"]), "rows": len(entries) + sum(
                  1 for e in errors if e["code"] != "already_on_worklist")}
    uow.commit()
    return result


def remove_from_worklist(uow, institution_id, number, actor=None):
    """Removes the entry and, with it, its stored dossier and attachments."""
    session = uow.session
    entry = entry_or_404(session, institution_id, number)
    busy = session.execute(sa.select(sa.func.count()).select_from(BatchItem).where(
        BatchItem.worklist_id == entry.id,
        BatchItem.status.in_(("queued", "running")))).scalar_one()
    if busy:
        raise conflict("action_in_progress",
                       "Voor deze leerling loopt nog een actie; verwijder hem als die klaar is.")
    d = dossier_of(session, entry.id)
    if d is not None:
        session.execute(sa.delete(Attachment).where(Attachment.dossier_id == d.id))
        session.delete(d)
        session.flush()
    record_audit(session, institution_id, actor, "worklist_remove", entry.id)
    session.delete(entry)
    uow.commit()
    return {"removed": True}
