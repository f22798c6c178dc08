"""Files coming in: the Excel template, a student list from the portal or with
an upload code, the report going back. Files travel base64-encoded in RPC."""
import base64
import binascii

from eventlet import tpool

from services.common.errors import DomainError, error_item

from .. import columns as colspec
from .. import rules, storage, templates, xlsxguard
from .rate_limit import check_rate, record_attempt
from .submissions import check_submission_fields, create_submission, load_submission


def b64(data):
    return base64.b64encode(data).decode("ascii")


def decode_file(content_b64, limits):
    if not isinstance(content_b64, str) or not content_b64:
        raise DomainError("required", "Kies een bestand.", status=422, field="file",
                          errors=[error_item("required", "Kies een bestand.", field="file")])
    if len(content_b64) * 3 // 4 > limits.max_bytes + 3:
        raise xlsxguard.too_large(limits.max_bytes)
    try:
        content = base64.b64decode(content_b64, validate=True)
    except (binascii.Error, ValueError):
        raise DomainError("file_encoding_invalid", "Het bestand is niet goed doorgegeven "
                          "(base64).", status=400, field="file") from None
    xlsxguard.check_size(len(content), limits)
    return content


def template(school_type, student_type):
    if school_type not in colspec.SCHOOL_TYPES or student_type not in colspec.STUDENT_TYPES:
        raise DomainError("template_invalid", "Kies schoolsoort vo of mbo en soort leerlingen "
                          "potential_transfer of non_transfer.", status=422)
    return {"filename": colspec.template_filename(school_type, student_type),
            "content_b64": b64(templates.template_bytes(school_type, student_type))}


def submit(db, settings, inst, data, filename, content_b64, source, submitted_by):
    """A list for `inst` (the institution record: id, school_type) → {id,
    status: validating}; the check follows in the background. The workbook is
    inspected in a thread (tpool): a large file must not block the hub."""
    fields = check_submission_fields(data)
    mismatch = rules.school_type_mismatch(fields["school_type"], inst.get("school_type"))
    if mismatch is not None:
        raise DomainError(mismatch["code"], mismatch["message"], status=422,
                          field="school_type", errors=[mismatch])
    content = decode_file(content_b64, settings.limits)
    info = tpool.execute(xlsxguard.inspect_xlsx, content, settings.limits)
    with db() as uow:
        return create_submission(uow, settings, inst["id"], fields, filename, content, info,
                                 source, submitted_by)


def submit_portal(db, settings, users, institution_id, data, filename, content_b64, actor):
    inst = users.get_institution(institution_id)
    if inst.get("is_platform"):
        raise DomainError("not_found", "Instelling niet gevonden.", status=404)
    return submit(db, settings, inst, data, filename, content_b64, "portal",
                  (actor or {}).get("code"))


def submit_public(db, settings, users, upload_code, data, filename, content_b64, client):
    """A list sent with an institution's upload code (no account), rate-limited
    per client; an unknown code counts as a failed attempt."""
    with db() as uow:
        key = check_rate(uow, settings, client)
    code = upload_code.strip() if isinstance(upload_code, str) else ""
    inst = None
    if code and len(code) <= 64:
        try:
            inst = users.institution_by_upload_code(code)
        except DomainError as exc:
            if exc.status != 404:
                raise
    with db() as uow:
        record_attempt(uow, key, ok=inst is not None)
    if inst is None:
        message = "De uploadcode is onbekend. Vraag de juiste code na bij uw school."
        raise DomainError("upload_code_invalid", message, status=422, field="upload_code",
                          errors=[error_item("upload_code_invalid", message,
                                             field="upload_code")])
    result = submit(db, settings, inst, data, filename, content_b64, "public", None)
    return {"id": result["id"], "status": result["status"]}


def report(db, settings, build_report, submission_id, institution_id=None):
    """report.xlsx of a checked list: kept after a rejection, else built now
    (`build_report(submission_id)` → bytes)."""
    with db() as uow:
        sub = load_submission(uow.session, submission_id, institution_id)
        status, ready, purged, sid = sub.status, sub.report_ready, sub.purged_at, sub.id
    if status == "validating":
        raise DomainError("report_not_ready", "De lijst wordt nog gecontroleerd; het "
                          "rapport volgt daarna.", status=409)
    if purged is not None:
        raise DomainError("purged", "Het bestand is na de bewaartermijn verwijderd.",
                          status=410)
    path = storage.submission_dir(settings.data_dir, sid) / storage.REPORT
    data = path.read_bytes() if ready and path.exists() else build_report(sid)
    return {"filename": f"rapport-leerlinglijst-{sid}.xlsx", "content_b64": b64(data)}
