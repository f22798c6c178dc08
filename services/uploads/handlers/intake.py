"""Files coming in: the Excel template, a student list from the portal or with
an upload code, the report going back.

An uploaded file arrives as a reference to an incoming file in the shared file
store (services/common/filestore.py; the gateway streamed it there): it is read
verified, adopted under its lasting key when its record is stored, and deleted
otherwise. Base64 in the RPC message is still accepted from older callers. The
report goes back as a reference too; the template (a few kB) inline."""
import base64
import binascii
import contextlib

from eventlet import tpool

from services.common import filestore
from services.common.errors import DomainError, error_item

from .. import columns as colspec
from .. import rules, storage, templates, xlsxguard
from .rate_limit import check_rate, record_attempt
from .submissions import check_submission_fields, create_submission, load_submission


def b64(data):
    return base64.b64encode(data).decode("ascii")


def no_file():
    return DomainError("required", "Kies een bestand.", status=422, field="file",
                       errors=[error_item("required", "Kies een bestand.", field="file")])


def decode_file(content_b64, limits):
    if not isinstance(content_b64, str) or not content_b64:
        raise no_file()
    if len(content_b64) * 3 // 4 > limits.max_bytes + 3:
        raise xlsxguard.too_large(limits.max_bytes)
    try:
        content = base64.b64decode(content_b64, validate=True)
    except (binascii.Error, ValueError):
        raise DomainError("file_encoding_invalid", "Het bestand is niet goed doorgegeven "
                          "(base64).", status=400, field="file") from None
    xlsxguard.check_size(len(content), limits)
    return content


class Upload:
    """A received file: its bytes for the parsers (read, size-checked and
    verified on first use) and, when it came by reference, the incoming file
    to adopt under its lasting key (`adopt`)."""

    def __init__(self, load, ref=None):
        self._load, self._content, self.ref, self.adopted = load, None, ref, False

    @property
    def content(self):
        if self._content is None:
            self._content = self._load()
        return self._content

    def adopt(self, files, key):
        self.adopted = True
        return files.move(self.ref, key)


@contextlib.contextmanager
def received(files, file, limits):
    """The Upload of `file` (a reference dict, or base64 text); an incoming
    file not adopted by the end of the block is deleted, whatever happened."""
    if not isinstance(file, dict):
        yield Upload(lambda: decode_file(file, limits))
        return
    ref = filestore.incoming_ref(file)

    def load():
        if not ref["size"]:
            raise no_file()
        xlsxguard.check_size(ref["size"], limits)
        return files.read(ref)

    upload = Upload(load, ref)
    try:
        yield upload
    finally:
        if not upload.adopted:
            files.delete(ref["key"])


def template(school_type, student_type):
    if school_type not in colspec.SCHOOL_TYPES or student_type not in colspec.STUDENT_TYPES:
        raise DomainError("template_invalid", "Kies schoolsoort vo of mbo en soort leerlingen "
                          "potential_transfer of non_transfer.", status=422)
    return {"filename": colspec.template_filename(school_type, student_type),
            "content_b64": b64(templates.template_bytes(school_type, student_type))}


def submit(db, settings, inst, data, filename, file, source, submitted_by):
    """A list for `inst` (the institution record: id, school_type) → {id,
    status: validating}; the check follows in the background. The workbook is
    inspected in a thread (tpool): a large file must not block the hub."""
    with received(settings.files, file, settings.limits) as upload:
        fields = check_submission_fields(data)
        mismatch = rules.school_type_mismatch(fields["school_type"], inst.get("school_type"))
        if mismatch is not None:
            raise DomainError(mismatch["code"], mismatch["message"], status=422,
                              field="school_type", errors=[mismatch])
        info = tpool.execute(xlsxguard.inspect_xlsx, upload.content, settings.limits)
        with db() as uow:
            return create_submission(uow, settings, inst["id"], fields, filename,
                                     upload.content, info, source, submitted_by, upload)


def submit_portal(db, settings, users, institution_id, data, filename, file, actor):
    try:
        inst = users.get_institution(institution_id)
        if inst.get("is_platform"):
            raise DomainError("not_found", "Instelling niet gevonden.", status=404)
    except Exception:
        settings.files.discard(file)
        raise
    return submit(db, settings, inst, data, filename, file, "portal", (actor or {}).get("code"))


def submit_public(db, settings, users, upload_code, data, filename, file, client):
    """A list sent with an institution's upload code (no account), rate-limited
    per client; an unknown code counts as a failed attempt."""
    try:
        inst = _public_institution(db, settings, users, upload_code, client)
    except Exception:
        settings.files.discard(file)
        raise
    result = submit(db, settings, inst, data, filename, file, "public", None)
    return {"id": result["id"], "status": result["status"]}


def _public_institution(db, settings, users, upload_code, client):
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
    return inst


def report(db, settings, build_report, submission_id, institution_id=None):
    """report.xlsx of a checked list, as a reference in the file store: kept
    after a rejection, else built now (`build_report(submission_id)` stores it)."""
    with db() as uow:
        sub = load_submission(uow.session, submission_id, institution_id)
        status, ready, purged, sid = sub.status, sub.report_ready, sub.purged_at, sub.id
    if status == "validating":
        raise DomainError("report_not_ready", "De lijst wordt nog gecontroleerd; het "
                          "rapport volgt daarna.", status=409)
    if purged is not None:
        raise DomainError("purged", "Het bestand is na de bewaartermijn verwijderd.",
                          status=410)
    key = storage.submission_key(sid, storage.REPORT)
    if not (ready and settings.files.exists(key)):
        build_report(sid)
    return {"filename": f"rapport-leerlinglijst-{sid}.xlsx", "file": settings.files.stat(key)}


def create_import(db, settings, institution_id, kind, filename, file, delimiter, encoding,
                  actor_code):
    """A CSV import from an uploaded file (reference or base64)."""
    from .. import imports
    with received(settings.files, file, settings.limits) as upload, db() as uow:
        return imports.create_import(uow, settings, institution_id, kind, filename,
                                     upload.content, delimiter, encoding, actor_code, upload)
