"""Use cases of the oso service.

Each function takes an entered UnitOfWork (services/common/db.py) unless it
says otherwise, does one command or query, commits with its events where it
changes something, and returns plain JSON-able values. Rules live in rules.py,
reading a dossier in dossier.py, official validation in validation.py, the
sources in sources.py.

Executing actions runs in the background (service.py's timer): `start_actions`
queues a batch, `claim_batch` hands it to one service instance, `run_batch`
fetches, checks and applies its items one by one with the status per student.
No BSN is ever logged or put in an event: events name the worklist entry id.
"""
import base64
import binascii
import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.common.errors import DomainError, conflict, error_item, not_found
from services.common.ids import IdentifierError, mask, normalize_bsn, normalize_onderwijsnummer
from services.common.outbox import utcnow
from services.common.times import iso

from . import codelists
from . import dossier as dossier_mod
from . import rules
from .models import (Attachment, Audit, Batch, BatchItem, DeliveryPoint, Dossier,
                     WorklistEntry)
from .sources import DossierRequest, SourceError

log = logging.getLogger(__name__)

STALE_CLAIM = dt.timedelta(minutes=10)
MAX_ITEMS = 5000
STATUS_NL = {"not_fetched": "Dossier nog niet opgehaald", "queued": "In de wachtrij",
             "fetching": "Wordt opgehaald", "fetched": "Opgehaald", "failed": "Mislukt"}
_RULE_STATUS = {"file_type_invalid": 415}


# --- helpers -----------------------------------------------------------------------

def _date(text):
    try:
        return dt.date.fromisoformat(text) if text else None
    except (TypeError, ValueError):
        return None


def _actor(actor):
    return (actor or {}).get("code")


def _rule_error(exc: rules.RuleError):
    status = _RULE_STATUS.get(exc.code, 422)
    return DomainError(exc.code, exc.message, status=status, field=exc.field,
                       errors=[error_item(exc.code, exc.message, field=exc.field)])


def _identifier(value, field_name="bsn"):
    try:
        return rules.student_identifier(value)
    except IdentifierError:
        msg = rules.identifier_message()
        raise DomainError("bsn_invalid", msg, status=422, field=field_name,
                          errors=[error_item("bsn_invalid", msg, field=field_name)]) from None


def _audit(session, institution_id, actor, action, worklist_id=None, detail=None):
    session.add(Audit(institution_id=institution_id, worklist_id=worklist_id, at=utcnow(),
                      actor=_actor(actor), action=action, detail=detail))


def _entry(session, institution_id, number, lock=False):
    try:
        _kind, number = rules.student_identifier(number)
    except IdentifierError:
        return None
    q = sa.select(WorklistEntry).where(WorklistEntry.institution_id == institution_id,
                                       WorklistEntry.number == number)
    if lock:
        q = q.with_for_update()
    return session.execute(q).scalar_one_or_none()


def _entry_or_404(session, institution_id, number):
    entry = _entry(session, institution_id, number)
    if entry is None:
        raise not_found("worklist_entry", "Deze leerling staat niet op de OSO-werklijst.")
    return entry


def _dossier_of(session, entry_id):
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


def health(uow):
    uow.session.execute(sa.text("SELECT 1"))
    return {"service": "oso", "status": "ok"}


# --- delivery point -------------------------------------------------------------------

def delivery_point_dict(dp):
    return {"id": dp.id, "number": dp.number, "key": rules.mask_key(dp.key), "brin": dp.brin,
            "registered_at": iso(dp.registered_at), "registered_by": dp.registered_by}


def list_delivery_points(uow, institution_id):
    dps = uow.session.execute(sa.select(DeliveryPoint).where(
        DeliveryPoint.institution_id == institution_id)).scalars().all()
    items = [delivery_point_dict(dp) for dp in dps]
    return {"items": items, "total": len(items), "page": 1, "page_size": max(len(items), 1)}


def _brin_mismatch(code, field, text):
    return DomainError(code, text, status=422, field=field,
                       errors=[error_item(code, text, field=field)])


def register_delivery_point(uow, institution_id, institution, data, brin_of_key, actor=None):
    """Register (or replace) the institution's delivery point from `{number,
    key, brin?}`: the key as Mijn OSO shows it (or `<BRIN>-<key>`).

    `brin_of_key` (number, key) -> (brin or None, key as Mijn OSO shows it)
    tells which BRIN the key belongs to when it can. A BRIN given in the
    `brin` field or in front of the key must be the institution's; without
    either the key is taken to be the institution's. The stored key is the one
    Mijn OSO shows (without a BRIN in front)."""
    data = data if isinstance(data, dict) else {}
    try:
        number = rules.delivery_point_number(data.get("number"))
        key = str(data.get("key") or "").strip()
        if not key:
            raise rules.RuleError("required", "Het veld 'key' is verplicht.", field="key")
        claimed = rules.claimed_brin(data.get("brin"))
        key_brin, secret = brin_of_key(number, key)
    except rules.RuleError as exc:
        raise _rule_error(exc) from None
    mine = rules.institution_brin(institution) or "(geen)"
    if claimed is not None and not rules.brin_matches(claimed, institution):
        raise _brin_mismatch(
            "brin_mismatch", "brin",
            f"Het BRIN-nummer {claimed} in het veld 'brin' is niet dat van deze school "
            f"({mine}). Laat het veld leeg of vul het BRIN-nummer van uw eigen school in.")
    if key_brin is not None and not rules.brin_matches(key_brin, institution):
        raise _brin_mismatch(
            "key_brin_mismatch", "key",
            f"De sleutel hoort bij BRIN {key_brin}, maar deze school heeft BRIN {mine}. "
            f"Gebruik de sleutel van het aanleverpunt van uw eigen school (Mijn OSO > "
            f"Aanleverpunten) en controleer of de BRIN-code in Leerlingbus klopt.")
    key = secret
    session = uow.session
    dp = session.execute(sa.select(DeliveryPoint).where(
        DeliveryPoint.institution_id == institution_id)).scalar_one_or_none()
    if dp is None:
        dp = DeliveryPoint(institution_id=institution_id)
        session.add(dp)
    dp.number, dp.key, dp.brin = number, key, rules.institution_brin(institution)[:6]
    dp.registered_at, dp.registered_by = utcnow(), _actor(actor)
    _audit(session, institution_id, actor, "delivery_point_registered", detail=f"nr {number}")
    session.flush()
    result = delivery_point_dict(dp)
    uow.commit()
    return result


def _delivery_point_or_refuse(session, institution_id):
    dp = session.execute(sa.select(DeliveryPoint).where(
        DeliveryPoint.institution_id == institution_id)).scalar_one_or_none()
    if dp is None:
        raise DomainError(
            "delivery_point_missing",
            "Er is nog geen aanleverpunt geregistreerd, dus er kunnen geen OSO-dossiers worden "
            "opgehaald. Maak in Mijn OSO een aanleverpunt aan en registreer het nummer en de "
            "sleutel onder OSO > Aanleverpunt (POST /oso/delivery-points).", status=409)
    return dp


# --- worklist ---------------------------------------------------------------------------

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
        kind, number = _identifier(data["bsn"], "bsn")
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
    if _entry(session, institution_id, number) is not None:
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
    _audit(session, institution_id, actor, "worklist_add", entry.id)
    result = entry_dict(entry)
    uow.commit()
    return result


def import_worklist(uow, institution_id, filename, content_b64, actor=None):
    """Add the numbers of an .xlsx with a `BSN` column; invalid numbers and
    duplicates are reported by row, the valid ones added."""
    name = (filename or "").lower()
    if name and not name.endswith((".xlsx", ".xlsm")):
        msg = "Stuur een Excel-bestand (.xlsx) met één kolom met de titel 'BSN'."
        raise DomainError("file_type_invalid", msg, status=415, field="file",
                          errors=[error_item("file_type_invalid", msg, field="file")])
    try:
        content = base64.b64decode(content_b64 or "", validate=True)
    except (binascii.Error, ValueError):
        raise DomainError("file_type_invalid", "Het bestand kon niet worden gelezen.",
                          status=415, field="file") from None
    try:
        entries, errors = rules.read_worklist_xlsx(content)
    except rules.RuleError as exc:
        raise _rule_error(exc) from None
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
        _audit(session, institution_id, actor, "worklist_add", entry.id, detail="xlsx")
    result = {"added": len(added), "items": [entry_dict(e) for e in added],
              "errors": sorted(errors, key=lambda e: e["row"]), "rows": len(entries) + sum(
                  1 for e in errors if e["code"] != "already_on_worklist")}
    uow.commit()
    return result


def remove_from_worklist(uow, institution_id, number, actor=None):
    """Removes the entry and, with it, its stored dossier and attachments."""
    session = uow.session
    entry = _entry_or_404(session, institution_id, number)
    busy = session.execute(sa.select(sa.func.count()).select_from(BatchItem).where(
        BatchItem.worklist_id == entry.id,
        BatchItem.status.in_(("queued", "running")))).scalar_one()
    if busy:
        raise conflict("action_in_progress",
                       "Voor deze leerling loopt nog een actie; verwijder hem als die klaar is.")
    d = _dossier_of(session, entry.id)
    if d is not None:
        session.execute(sa.delete(Attachment).where(Attachment.dossier_id == d.id))
        session.delete(d)
        session.flush()
    _audit(session, institution_id, actor, "worklist_remove", entry.id)
    session.delete(entry)
    uow.commit()
    return {"removed": True}


# --- actions (batches) ---------------------------------------------------------------------

def batch_dict(session, batch):
    items = session.execute(sa.select(BatchItem).where(BatchItem.batch_id == batch.id)
                            .order_by(BatchItem.id)).scalars().all()
    return {
        "id": batch.id, "status": batch.status,
        "progress": {"done": batch.done, "total": batch.total},
        "created_at": iso(batch.created_at), "finished_at": iso(batch.finished_at),
        "items": [{
            "bsn": i.number, "action": i.action, "status": i.status, "code": i.code,
            "message": i.message, "finished_at": iso(i.finished_at)} for i in items],
    }


def start_actions(uow, institution_id, data, actor=None):
    """Queue the chosen actions; they run in the background. `data` is
    {items: [{bsn, action?}]} and/or {all: true, action?}: without an action
    a student gets the default (import when never fetched, else none)."""
    session = uow.session
    data = data or {}
    _delivery_point_or_refuse(session, institution_id)
    wanted = []   # (entry, action)
    errors = []
    seen = set()
    rows = session.execute(sa.select(WorklistEntry, Dossier.id).outerjoin(
        Dossier, Dossier.worklist_id == WorklistEntry.id).where(
        WorklistEntry.institution_id == institution_id)).all()
    by_number = {e.number: (e, did is not None) for e, did in rows}
    if data.get("all"):
        for e, fetched in sorted(by_number.values(), key=lambda x: x[0].id):
            wanted.append((e, data.get("action") or rules.default_action(fetched)))
            seen.add(e.number)
    for n, item in enumerate(data.get("items") or []):
        fieldname = f"items.{n}.bsn"
        try:
            _kind, number = rules.student_identifier(item.get("bsn"))
        except IdentifierError:
            errors.append(error_item("bsn_invalid", rules.identifier_message(), field=fieldname))
            continue
        found = by_number.get(number)
        if found is None:
            errors.append(error_item("not_on_worklist",
                                     "Deze leerling staat niet op de OSO-werklijst.",
                                     field=fieldname))
            continue
        action = item.get("action") or rules.default_action(found[1])
        if action not in rules.ACTIONS:
            errors.append(error_item("choice_invalid", "Onbekende actie.",
                                     field=f"items.{n}.action"))
            continue
        if number in seen:
            wanted = [(e, a) for e, a in wanted if e.number != number]
        seen.add(number)
        wanted.append((found[0], action))
    if errors:
        raise DomainError(errors[0]["code"], errors[0]["message"] if len(errors) == 1 else
                          "Niet alle leerlingen in de opdracht zijn geldig.", status=422,
                          field=errors[0].get("field"), errors=errors)
    if not wanted:
        msg = "Kies ten minste één leerling (items) of alle leerlingen (all)."
        raise DomainError("items_required", msg, status=422, field="items",
                          errors=[error_item("items_required", msg, field="items")])
    if len(wanted) > MAX_ITEMS:
        raise DomainError("too_many_items", f"Maximaal {MAX_ITEMS} leerlingen per opdracht.",
                          status=422, field="items")
    ids = [e.id for e, a in wanted if a != "none"]
    if ids:
        busy = session.execute(sa.select(BatchItem.number).where(
            BatchItem.worklist_id.in_(ids), BatchItem.status.in_(("queued", "running")))
        ).scalars().first()
        if busy:
            raise conflict("action_in_progress",
                           "Voor een of meer van deze leerlingen loopt al een actie. Wacht tot "
                           "die klaar is.")
    now = utcnow()
    batch = Batch(institution_id=institution_id, status="queued", total=len(wanted), done=0,
                  actor=_actor(actor), created_at=now)
    session.add(batch)
    session.flush()
    for entry, action in wanted:
        if action == "none":
            session.add(BatchItem(batch_id=batch.id, worklist_id=entry.id, number=entry.number,
                                  action=action, status="skipped", message="Geen actie.",
                                  finished_at=now))
            batch.done += 1
            continue
        session.add(BatchItem(batch_id=batch.id, worklist_id=entry.id, number=entry.number,
                              action=action, status="queued"))
        entry.status, entry.status_code, entry.status_message = "queued", None, None
        _audit(session, institution_id, actor, f"action_{action}", entry.id)
    if batch.done == batch.total:
        batch.status, batch.finished_at = "done", now
    session.flush()
    result = batch_dict(session, batch)
    uow.commit()
    return result


def get_batch(uow, institution_id, batch_id):
    batch = uow.session.get(Batch, batch_id)
    if batch is None or batch.institution_id != institution_id:
        raise not_found("batch", "Deze opdracht bestaat niet.")
    return batch_dict(uow.session, batch)


def claim_batch(uow, now=None):
    """The id of a queued (or abandoned) batch, now claimed by the caller; or None."""
    now = now or utcnow()
    session = uow.session
    stale = now - STALE_CLAIM
    cond = sa.or_(Batch.status == "queued",
                  sa.and_(Batch.status == "running", Batch.claimed_at < stale))
    candidate = session.execute(sa.select(Batch.id).where(cond).order_by(Batch.id).limit(1)
                                ).scalar_one_or_none()
    if candidate is None:
        uow.rollback()
        return None
    res = session.execute(sa.update(Batch).where(Batch.id == candidate, cond)
                          .values(status="running", claimed_at=now))
    if res.rowcount != 1:
        uow.rollback()
        return None
    # items a crashed instance left running are retried
    session.execute(sa.update(BatchItem).where(BatchItem.batch_id == candidate,
                                               BatchItem.status == "running")
                    .values(status="queued"))
    uow.commit()
    return candidate


@dataclass
class Retrieved:
    content: bytes
    origin: str
    data: dict
    contents: dict
    meldingen: list
    validation: dict
    dossier_date: dt.date | None = None
    extra: dict = field(default_factory=dict)


def retrieve(source, validator, request, validation_off_reason=None):
    """Fetch, check and parse one dossier (no database). Raises SourceError
    when nothing came, DossierRefused when what came cannot be applied."""
    fetched = source.fetch(request)
    return check_dossier(fetched.content, fetched.origin, validator, request,
                         validation_off_reason)


def check_dossier(content, origin, validator, request, validation_off_reason=None):
    root = dossier_mod.read_xml(content)
    dossier_mod.check_root(root)
    if validator is not None:
        validator.check_xsd(root)
        meldingen = validator.meldingen(root)
        validation = {"official": True, **validator.description,
                      "message": (f"Officieel gevalideerd: {len(meldingen)} melding(en)."
                                  if meldingen else "Officieel gevalideerd: geen meldingen.")}
    else:
        meldingen = []
        validation = {"official": False, "message": validation_off_reason or (
            "Officiële validatie staat uit: de map met de OSO-standaard "
            "(LEERLINGBUS_OSO_STANDARD_DIR) is niet ingesteld. Het dossier is alleen met de "
            "eigen lezer van Leerlingbus gecontroleerd.")}
    data, contents = dossier_mod.parse_dossier(root)
    kind, number = dossier_mod.identifier(data)
    try:
        number = normalize_bsn(number) if kind == "bsn" else normalize_onderwijsnummer(number)
    except IdentifierError:
        raise dossier_mod.DossierRefused(
            "dossier_bsn_invalid",
            f"Het {'BSN' if kind == 'bsn' else 'onderwijsnummer'} in het dossier is ongeldig "
            f"(11-proef); het dossier is niet ingelezen.") from None
    if (kind, number) != (request.kind, request.number):
        label = "BSN" if request.kind == "bsn" else "onderwijsnummer"
        raise dossier_mod.DossierRefused(
            "dossier_bsn_mismatch",
            f"Het dossier is geweigerd: het {'BSN' if kind == 'bsn' else 'onderwijsnummer'} in "
            f"het dossier ({mask(number)}) is niet het {label} van de leerling op de werklijst "
            f"({mask(request.number)}). Het BSN bepaalt welke leerling het is.")
    return Retrieved(content=content, origin=origin, data=data, contents=contents,
                     meldingen=meldingen, validation=validation,
                     dossier_date=_date(data["metadata"].get("date")))


def next_item(uow, batch_id):
    """Mark the batch's next queued item running; returns its work order."""
    session = uow.session
    item = session.execute(sa.select(BatchItem).where(
        BatchItem.batch_id == batch_id, BatchItem.status == "queued").order_by(BatchItem.id)
        .limit(1)).scalar_one_or_none()
    if item is None:
        batch = session.get(Batch, batch_id)
        if batch is not None and batch.status != "done":
            batch.status, batch.finished_at = "done", utcnow()
            batch.done = session.execute(sa.select(sa.func.count()).select_from(BatchItem).where(
                BatchItem.batch_id == batch_id)).scalar_one()
        uow.commit()
        return None
    batch = session.get(Batch, batch_id)
    entry = session.get(WorklistEntry, item.worklist_id) if item.worklist_id else None
    dp = session.execute(sa.select(DeliveryPoint).where(
        DeliveryPoint.institution_id == batch.institution_id)).scalar_one_or_none()
    item.status = "running"
    batch.claimed_at = utcnow()
    if entry is not None:
        entry.status = "fetching"
    order = {
        "item_id": item.id, "batch_id": batch_id, "institution_id": batch.institution_id,
        "worklist_id": entry.id if entry is not None else None, "action": item.action,
        "request": DossierRequest(brin=dp.brin, delivery_point=dp.number,
                                  key=rules.source_key(dp.key),
                                  number=entry.number, kind=entry.kind)
        if (entry is not None and dp is not None) else None,
    }
    uow.commit()
    return order


def finish_item(uow, order, status, code=None, message=None, retrieved=None):
    """Record the outcome of one item: apply a retrieved dossier (merge rules),
    or record why it failed. Emits dossier_fetched / dossier_applied."""
    session = uow.session
    now = utcnow()
    item = session.get(BatchItem, order["item_id"])
    batch = session.get(Batch, order["batch_id"])
    entry = session.get(WorklistEntry, order["worklist_id"]) if order["worklist_id"] else None
    iid = order["institution_id"]
    action = order["action"]
    if entry is None:
        status, code, message = "failed", "not_on_worklist", \
            "De leerling is intussen van de werklijst verwijderd."
    outcome = None
    if status == "applied" and retrieved is not None:
        try:
            outcome = _apply(session, entry, action, retrieved, now)
        except rules.RuleError as exc:
            status, code, message = "failed", exc.code, exc.message
        else:
            message = outcome["message"]
    if retrieved is not None or code in _DOCUMENT_REFUSALS:
        uow.add_event("dossier_fetched", iid, {
            "worklist_id": order["worklist_id"], "batch_id": order["batch_id"],
            "action": action, "accepted": status == "applied", "code": code,
            "official_validation": bool(retrieved.validation.get("official"))
            if retrieved is not None else None,
            "meldingen": len(retrieved.meldingen) if retrieved is not None else None,
            "dossier_date": iso(retrieved.dossier_date) if retrieved is not None else None,
        })
    if entry is not None:
        entry.last_action, entry.last_action_at = action, now
        if status == "applied":
            entry.status, entry.status_code, entry.status_message = "fetched", None, None
            entry.fetched_at = now
            entry.dossier_date = retrieved.dossier_date
        else:
            entry.status, entry.status_code, entry.status_message = "failed", code, message
    item.status, item.code, item.message, item.finished_at = status, code, message, now
    batch.done = (batch.done or 0) + 1
    batch.claimed_at = now
    if outcome is not None:
        d = outcome.pop("_dossier")
        uow.add_event("dossier_applied", iid, {
            "dossier_id": d.id, "worklist_id": entry.id, "action": action,
            "changed_sections": outcome["changed"], "definitive": bool(d.definitive),
            "final_test_only": bool(d.definitive), "dossier_date": iso(d.dossier_date),
            "meldingen": len(d.meldingen or []),
            "attachments": len(d.hard.get("attachments") or []),
            "student_number": d.student_number,
        })
    uow.commit()
    return {"status": status, "code": code, "message": message}


# refusals of a document that did arrive (a dossier_fetched event says so)
_DOCUMENT_REFUSALS = {
    "dossier_not_xml", "dossier_unsafe_xml", "dossier_namespace_unknown", "dossier_not_oso",
    "dossier_xsd_invalid", "dossier_category_forbidden", "dossier_bsn_missing",
    "dossier_bsn_mismatch", "dossier_bsn_invalid", "dossier_student_missing",
    "dossier_attachment_invalid", "dossier_validation_failed",
}


def _apply(session, entry, action, retrieved, now):
    d = _dossier_of(session, entry.id)
    old = d.hard if d is not None else None
    definitive = bool(d.definitive) if d is not None else False
    hard, outcome = rules.merge(old, retrieved.data, action, definitive)
    if d is None:
        d = Dossier(institution_id=entry.institution_id, worklist_id=entry.id, soft={},
                    definitive=False, created_at=now)
        session.add(d)
    d.origin = retrieved.origin[:500]
    d.xml = retrieved.content
    d.xml_sha256 = hashlib.sha256(retrieved.content).hexdigest()
    d.validation, d.meldingen = retrieved.validation, retrieved.meldingen
    d.hard = hard
    d.dossier_date = retrieved.dossier_date
    d.applied_at, d.updated_at, d.last_action = now, now, action
    d.outcome = {k: v for k, v in outcome.items()}
    session.flush()
    # attachments: store what the data now refers to, drop what it no longer does
    wanted = {m["ref"]: m for m in hard.get("attachments") or []}
    stored = {a.ref: a for a in session.execute(sa.select(Attachment).where(
        Attachment.dossier_id == d.id)).scalars()}
    for ref, row in stored.items():
        if ref not in wanted:
            session.delete(row)
    for ref, meta in wanted.items():
        if ref in stored or ref not in retrieved.contents:
            continue
        session.add(Attachment(dossier_id=d.id, ref=ref, section=meta["section"],
                               filename=meta["filename"][:255],
                               description=meta.get("description"),
                               content_type=meta["content_type"], size=meta["size"],
                               content=retrieved.contents[ref]))
    session.flush()
    outcome["_dossier"] = d
    return outcome


def run_batch(db, batch_id, source_factory, validator_factory):
    """Work through a claimed batch (called from the service's timer).

    `db()` gives a UnitOfWork; `source_factory()` the configured source (or
    raises SourceError); `validator_factory()` (validator or None, reason)."""
    while True:
        with db() as uow:
            order = next_item(uow, batch_id)
        if order is None:
            return
        retrieved, status, code, message = None, "applied", None, None
        try:
            if order["request"] is None:
                raise SourceError("delivery_point_missing",
                                  "Er is geen aanleverpunt geregistreerd.")
            source = source_factory()
            validator, off_reason = validator_factory()
            retrieved = retrieve(source, validator, order["request"], off_reason)
        except SourceError as exc:
            status, code, message = "failed", exc.code, exc.message
        except dossier_mod.DossierRefused as exc:
            status, code, message = "failed", exc.code, exc.message
        except Exception:  # a bug must not stop the batch; no BSN in the log
            log.exception("oso: unexpected error on batch item %s", order["item_id"])
            status, code, message = "failed", "internal_error", \
                "Er ging iets mis bij het verwerken van dit dossier. Probeer het opnieuw."
        with db() as uow:
            finish_item(uow, order, status, code, message, retrieved)


# --- dossiers ---------------------------------------------------------------------------

def _dossier_or_404(session, institution_id, number):
    entry = _entry_or_404(session, institution_id, number)
    d = _dossier_of(session, entry.id)
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


def get_dossier(uow, institution_id, number, actor=None):
    session = uow.session
    entry, d = _dossier_or_404(session, institution_id, number)
    _audit(session, institution_id, actor, "dossier_read", entry.id)
    result = dossier_dict(entry, d)
    uow.commit()
    return result


def get_source_file(uow, institution_id, number, actor=None):
    session = uow.session
    entry, d = _dossier_or_404(session, institution_id, number)
    _audit(session, institution_id, actor, "source_read", entry.id)
    result = {"filename": f"oso-dossier-{entry.id}.xml", "content_type": "application/xml",
              "content": base64.b64encode(d.xml).decode("ascii")}
    uow.commit()
    return result


def get_attachment(uow, institution_id, number, ref, actor=None):
    session = uow.session
    entry, d = _dossier_or_404(session, institution_id, number)
    att = session.execute(sa.select(Attachment).where(
        Attachment.dossier_id == d.id, Attachment.ref == str(ref))).scalar_one_or_none()
    if att is None:
        raise not_found("attachment", "Deze bijlage bestaat niet in het dossier.")
    _audit(session, institution_id, actor, "attachment_read", entry.id, detail=att.ref)
    result = {"filename": att.filename, "content_type": att.content_type, "size": att.size,
              "description": att.description,
              "content": base64.b64encode(att.content).decode("ascii")}
    uow.commit()
    return result


def update_report(uow, institution_id, number, changes, actor=None):
    """Change the soft data (the school's own notes). Locked once definitive."""
    session = uow.session
    entry, d = _dossier_or_404(session, institution_id, number)
    if d.definitive:
        raise conflict("report_definitive",
                       "Het rapport is definitief en kan niet meer worden gewijzigd.")
    try:
        d.soft = rules.clean_soft(changes, d.soft)
    except rules.RuleError as exc:
        raise _rule_error(exc) from None
    d.updated_at = utcnow()
    _audit(session, institution_id, actor, "report_update", entry.id)
    session.flush()
    result = dossier_dict(entry, d)["report"]
    uow.commit()
    return result


def finalize_report(uow, institution_id, number, actor=None):
    """Make the report definitive (idempotent): from now on a fetch only
    supplements or overwrites the final-test data."""
    session = uow.session
    entry, d = _dossier_or_404(session, institution_id, number)
    if not d.definitive:
        d.definitive, d.finalized_at, d.finalized_by = True, utcnow(), _actor(actor)
        d.updated_at = d.finalized_at
        _audit(session, institution_id, actor, "report_finalize", entry.id)
    session.flush()
    result = dossier_dict(entry, d)
    uow.commit()
    return result


# --- enrolment ----------------------------------------------------------------------------

def enrol_data(uow, institution_id, number, student_number, student_type):
    """The students.create_student data for a fetched student (no change yet)."""
    session = uow.session
    entry, d = _dossier_or_404(session, institution_id, number)
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
    entry, d = _dossier_or_404(session, institution_id, number)
    d.student_number, d.enrolled_at = student_number, utcnow()
    d.updated_at = d.enrolled_at
    _audit(session, institution_id, actor, "enrol", entry.id, detail=student_number)
    session.flush()
    result = dossier_dict(entry, d)
    uow.commit()
    return result
