"""Student-list submissions: create, read, list, approve, decline, and how the
RPC answers them."""
import hashlib
import os

import sqlalchemy as sa

from services.common.errors import DomainError, error_item, not_found, validation_error
from services.common.ids import IdentifierError, mask, normalize_email, to_id
from services.common.outbox import utcnow
from services.common.paging import page_args
from services.common.times import iso

from .. import columns as colspec
from .. import storage
from ..models import Submission, submissions

STATUSES = ("validating", "rejected", "awaiting_review", "declined", "loading", "loaded",
            "load_failed")
DEFAULT_ERRORS_SHOWN = 1000
# How a school reads a status (messages are Dutch; the API's values stay English).
STATUS_NL = {"validating": "wordt gecontroleerd", "rejected": "afgekeurd (bevat fouten)",
             "awaiting_review": "wacht op controle", "declined": "afgewezen",
             "loading": "wordt ingeladen", "loaded": "ingeladen",
             "load_failed": "inladen mislukt"}


# --- serialisation -----------------------------------------------------------

def submission_dict(sub, errors_offset=0, errors_limit=DEFAULT_ERRORS_SHOWN, reviewer=False):
    """A submission as the RPC answers it. `reviewer` adds what only helpdesk
    and the institution's admins see (conflicts with existing students)."""
    errors = list(sub.errors or [])
    shown = errors[errors_offset:errors_offset + errors_limit]
    result = {
        "id": sub.id, "institution_id": sub.institution_id, "status": sub.status,
        "school_type": sub.school_type, "student_type": sub.student_type,
        "source": sub.source, "submitted_by": sub.submitted_by, "name": sub.name,
        "email": sub.email, "note": sub.note, "filename": sub.filename, "size": sub.size,
        "sheet": sub.sheet_name, "rows": sub.rows, "error_count": sub.error_count,
        "errors": [{k: v for k, v in e.items()} for e in shown],
        "errors_offset": errors_offset, "errors_stored": len(errors),
        "progress": {"done": sub.progress_done, "total": sub.progress_total},
        "report_ready": bool(sub.report_ready), "project_id": sub.project_id,
        "reason": sub.reason, "decided_by": sub.decided_by, "decided_at": iso(sub.decided_at),
        "loaded": sub.loaded, "skipped": sub.skipped, "load_errors": list(sub.load_errors or []),
        "loaded_at": iso(sub.loaded_at), "purged": sub.purged_at is not None,
        "helpdesk_notified_at": iso(sub.helpdesk_notified_at),
        "created_at": iso(sub.created_at), "updated_at": iso(sub.updated_at),
    }
    if reviewer:
        result["conflicts"] = list(sub.conflicts or [])
    return result


def summary_dict(sub):
    """The short form of the review queue."""
    return {
        "id": sub.id, "institution_id": sub.institution_id, "status": sub.status,
        "school_type": sub.school_type, "student_type": sub.student_type,
        "source": sub.source, "name": sub.name, "email": sub.email, "filename": sub.filename,
        "rows": sub.rows, "error_count": sub.error_count,
        "conflict_count": len(sub.conflicts or []),
        "progress": {"done": sub.progress_done, "total": sub.progress_total},
        "created_at": iso(sub.created_at), "updated_at": iso(sub.updated_at),
    }


# --- helpers ---------------------------------------------------------------------

def _submission_not_found():
    return not_found("submission", "Leerlinglijst niet gevonden.")


def load_submission(session, submission_id, institution_id=None, lock=False):
    """The submission; 404 when missing or of another institution (when
    `institution_id` is given)."""
    sid = to_id(submission_id)
    sub = session.get(Submission, sid, with_for_update=lock) if sid is not None else None
    if sub is None:
        raise _submission_not_found()
    if institution_id is not None and sub.institution_id != to_id(institution_id):
        raise _submission_not_found()
    return sub


def _text(data, field, errors, limit, required=False, label=None):
    value = data.get(field)
    if value is not None and not isinstance(value, str):
        errors.append(error_item("value_invalid", f"{label or field} heeft geen geldige waarde.",
                                 field=field))
        return None
    value = (value or "").strip() or None
    if value is None:
        if required:
            errors.append(error_item("required", f"{label or field} is verplicht.", field=field))
        return None
    if len(value) > limit:
        errors.append(error_item("too_long", f"{label or field} is te lang (hoogstens {limit} "
                                             "tekens).", field=field))
        return None
    return value


def check_submission_fields(data):
    """Validated submission fields (school_type, student_type, name, email,
    note) or a 422 DomainError listing every problem."""
    if not isinstance(data, dict):
        raise validation_error([error_item("value_invalid", "Ongeldige invoer.", field="data")])
    errors = []
    school_type = data.get("school_type")
    if school_type not in colspec.SCHOOL_TYPES:
        errors.append(error_item("school_type_invalid", "De schoolsoort moet 'vo' of 'mbo' zijn.",
                                 field="school_type"))
    student_type = data.get("student_type")
    if student_type not in colspec.STUDENT_TYPES:
        errors.append(error_item("student_type_invalid",
                                 "Het soort leerlingen moet potential_transfer (potentiële "
                                 "overstapper) of non_transfer (niet-overstapper) zijn.",
                                 field="student_type"))
    name = _text(data, "name", errors, 200, required=True, label="Uw naam")
    email = _text(data, "email", errors, 254, required=True, label="Uw e-mailadres")
    if email is not None:
        try:
            email = normalize_email(email)
        except IdentifierError:
            errors.append(error_item("email_invalid", "Het e-mailadres is niet geldig.",
                                     field="email"))
    note = _text(data, "note", errors, 4000, label="Toelichting")
    if errors:
        raise validation_error(errors)
    return {"school_type": school_type, "student_type": student_type, "name": name,
            "email": email, "note": note}


def clean_filename(filename):
    name = os.path.basename(str(filename or "").replace("\\", "/")).strip()
    name = "".join(ch for ch in name if ch.isprintable())[:200]
    return name or "leerlinglijst.xlsx"


def wrong_state(sub, action):
    messages = {
        "approve": "Alleen een lijst die wacht op controle kan worden goedgekeurd.",
        "decline": "Alleen een lijst die wacht op controle kan worden afgewezen.",
    }
    state = STATUS_NL.get(sub.status, sub.status)
    return DomainError("wrong_state", f"{messages[action]} Deze lijst is {state}.", status=409,
                       extra={"status": sub.status})


# --- health ------------------------------------------------------------------------


# --- submissions -------------------------------------------------------------------

def create_submission(uow, settings, institution_id, fields, filename, content, info, source,
                      submitted_by=None, upload=None):
    """Store the original (the upload's incoming file adopted, else `content`)
    and the submission (status `validating`); the `submission_received` event
    starts the check (jobs.validate)."""
    now = utcnow()
    sub = Submission(
        institution_id=int(institution_id), source=source, submitted_by=submitted_by,
        filename=clean_filename(filename), size=len(content),
        sha256=hashlib.sha256(content).hexdigest(), sheet_name=info.sheet_name,
        status="validating", rows=None, error_count=0, errors=[], conflicts=[],
        progress_done=0, progress_total=info.data_rows, report_ready=False,
        loaded=0, skipped=0, load_errors=[], attempts=0, created_at=now, updated_at=now,
        **fields)
    uow.session.add(sub)
    uow.session.flush()
    storage.keep(settings, storage.submission_key(sub.id, storage.ORIGINAL), content, upload)
    uow.add_event("submission_received", sub.institution_id, {
        "submission_id": sub.id, "source": source, "school_type": sub.school_type,
        "student_type": sub.student_type, "rows": info.data_rows})
    try:
        uow.commit()
    except Exception:
        storage.forget_submission(settings, sub.id)
        raise
    return {"id": sub.id, "status": sub.status}


def get_submission(uow, submission_id, institution_id=None, errors_offset=0,
                   errors_limit=DEFAULT_ERRORS_SHOWN):
    sub = load_submission(uow.session, submission_id, institution_id)
    offset = max(0, to_id(errors_offset) or 0)
    limit = min(max(1, to_id(errors_limit) or DEFAULT_ERRORS_SHOWN), 10_000)
    return submission_dict(sub, offset, limit, reviewer=True)


ROW_SECRETS = ("bsn", "onderwijsnummer")


def row_view(clean):
    """A clean row as reviewers see it: sheet row number, the fields, BSN and
    onderwijsnummer masked as the students service masks them."""
    view = {"row": clean.get("_row")}
    for key, value in clean.items():
        if key.startswith("_"):
            continue
        view[key] = mask(value) if key in ROW_SECRETS and value else value
    return view


def submission_rows(uow, data_dir, submission_id, institution_id=None, page=1, page_size=50):
    """The checked rows of a list, a page at a time (the review page). Only a
    list that passed the check has them; a rejected or purged list answers
    none, with `available` false."""
    page, page_size = page_args(page, page_size)
    sub = load_submission(uow.session, submission_id, institution_id)
    sid, purged = sub.id, sub.purged_at is not None
    path = storage.submission_dir(data_dir, sid) / storage.ROWS
    rows, total, available = [], 0, False
    if not purged:
        try:
            rows, total = storage.read_rows_page(path, (page - 1) * page_size, page_size)
            available = True
        except FileNotFoundError:
            pass
    return {"items": [row_view(r) for r in rows], "total": total, "page": page,
            "page_size": page_size, "available": available}


def list_submissions(uow, institution_id=None, status=None, page=1, page_size=50):
    page, page_size = page_args(page, page_size)
    query = sa.select(Submission)
    if institution_id is not None:
        query = query.where(Submission.institution_id == to_id(institution_id))
    if status is not None:
        wanted = [s.strip() for s in str(status).split(",") if s.strip()]
        bad = [s for s in wanted if s not in STATUSES]
        if bad:
            raise validation_error([error_item(
                "status_invalid", "Onbekende status; kies uit " + ", ".join(STATUSES) + ".",
                field="status")])
        query = query.where(Submission.status.in_(wanted))
    total = uow.session.execute(
        sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    items = uow.session.execute(
        query.order_by(Submission.created_at, Submission.id)
        .limit(page_size).offset((page - 1) * page_size)).scalars()
    return {"items": [summary_dict(s) for s in items], "total": total, "page": page,
            "page_size": page_size}


def approve(uow, submission_id, actor_code, project_id=None):
    """awaiting_review (or load_failed) -> loading, once: approving again, or
    while loading, answers the submission as it is."""
    session = uow.session
    sub = load_submission(session, submission_id)
    if sub.status in ("loading", "loaded"):
        return submission_dict(sub, reviewer=True)
    if sub.status not in ("awaiting_review", "load_failed"):
        raise wrong_state(sub, "approve")
    pid = to_id(project_id) if project_id is not None else None
    if project_id is not None and pid is None:
        raise validation_error([error_item("value_invalid", "project_id moet een getal zijn.",
                                           field="project_id")])
    now = utcnow()
    values = {"status": "loading", "decided_by": actor_code, "decided_at": now,
              "updated_at": now, "claim": None, "claimed_at": None}
    if sub.status == "awaiting_review":
        values.update(project_id=pid, progress_done=0, progress_total=sub.rows or 0,
                      loaded=0, skipped=0, load_errors=[])
    result = session.execute(
        sa.update(submissions).where(submissions.c.id == sub.id,
                                     submissions.c.status == sub.status).values(**values))
    if result.rowcount != 1:  # approved by someone else at the same moment
        session.rollback()
        return submission_dict(load_submission(session, submission_id), reviewer=True)
    uow.add_event("submission_approved", sub.institution_id, {
        "submission_id": sub.id, "project_id": values.get("project_id", sub.project_id)})
    uow.commit()
    session.refresh(sub)
    return submission_dict(sub, reviewer=True)


def decline(uow, submission_id, actor_code, reason):
    session = uow.session
    sub = load_submission(session, submission_id)
    errors = []
    reason = _text({"reason": reason}, "reason", errors, 4000, required=True, label="De reden")
    if errors:
        raise validation_error(errors)
    if sub.status == "declined":
        return submission_dict(sub, reviewer=True), False
    if sub.status != "awaiting_review":
        raise wrong_state(sub, "decline")
    now = utcnow()
    result = session.execute(
        sa.update(submissions).where(submissions.c.id == sub.id,
                                     submissions.c.status == "awaiting_review")
        .values(status="declined", reason=reason, decided_by=actor_code, decided_at=now,
                updated_at=now))
    if result.rowcount != 1:
        session.rollback()
        raise wrong_state(load_submission(session, submission_id), "decline")
    uow.add_event("submission_declined", sub.institution_id, {"submission_id": sub.id})
    uow.commit()
    session.refresh(sub)
    return submission_dict(sub, reviewer=True), True
