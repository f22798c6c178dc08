"""The batch engine: executing the chosen actions in the background.

`start_actions` queues a batch, `claim_batch` hands it to one service instance
(service.py's timer), `run_batch` fetches, checks and applies its items one by
one with the status per student.
"""
import datetime as dt
import logging

import sqlalchemy as sa

from services.common.errors import DomainError, conflict, error_item, not_found
from services.common.ids import IdentifierError
from services.common.outbox import utcnow
from services.common.times import iso

from . import dossier_xml, rules
from .checking import retrieve
from .delivery_points import delivery_point_or_refuse
from .helpers import actor_code, record_audit
from .merge import apply_dossier
from .models import Batch, BatchItem, DeliveryPoint, Dossier, WorklistEntry
from .sources import DossierRequest, SourceError

log = logging.getLogger(__name__)


STALE_CLAIM = dt.timedelta(minutes=10)
MAX_ITEMS = 5000


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


def require_source(source_factory):
    """Refuse to queue actions without a usable dossier source: no source set up
    is the school's configuration (409), a broken one an outage (503)."""
    try:
        source_factory()
    except SourceError as exc:
        status = 409 if exc.code == "source_not_configured" else 503
        raise DomainError(exc.code, exc.message, status=status, field="source") from None


def start_actions(uow, institution_id, data, actor=None):
    """Queue the chosen actions; they run in the background. `data` is
    {items: [{bsn, action?}]} and/or {all: true, action?}: without an action
    a student gets the default (import when never fetched, else none)."""
    session = uow.session
    data = data or {}
    delivery_point_or_refuse(session, institution_id)
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
                  actor=actor_code(actor), created_at=now)
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
        record_audit(session, institution_id, actor, f"action_{action}", entry.id)
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
            outcome = apply_dossier(session, entry, action, retrieved, now)
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


def process_batches(db, source_factory, validator_factory):
    """Claim and run queued batches until none is left (the service's timer)."""
    while True:
        with db() as uow:
            batch_id = claim_batch(uow)
        if batch_id is None:
            return
        run_batch(db, batch_id, source_factory, validator_factory)


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
        except dossier_xml.DossierRefused as exc:
            status, code, message = "failed", exc.code, exc.message
        except Exception:  # a bug must not stop the batch; no BSN in the log
            log.exception("oso: unexpected error on batch item %s", order["item_id"])
            status, code, message = "failed", "internal_error", \
                "Er ging iets mis bij het verwerken van dit dossier. Probeer het opnieuw."
        with db() as uow:
            finish_item(uow, order, status, code, message, retrieved)
