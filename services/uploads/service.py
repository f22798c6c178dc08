"""The uploads service: Excel templates, student-list submissions with their
check and helpdesk review, CSV imports from the administration.

    nameko run --config deploy/config.yaml services.uploads.service

Entrypoints only; the use cases are in the handlers package (submissions), the
imports package (CSV), jobs.py (background check and load). Files arrive base64-encoded in
the RPC payload (the gateway may run on another machine) and are kept under
<data dir>/uploads/. The gateway does role and tenancy checks and passes
institution_id explicitly (None: helpdesk, every institution).
"""
import base64
import binascii
import logging
import uuid

from eventlet import tpool
from nameko.events import event_handler
from nameko.extensions import DependencyProvider
from nameko.timer import timer

from services.common.db import Database
from services.common.durable import durable_event_handler
from services.common.errors import DomainError, error_item
from services.common.events import MAX_INSTITUTION_ID, PermanentEventError, parse_envelope
from services.common.rpc import ServiceRpc, domain_rpc

from . import columns as colspec
from . import handlers, imports, jobs, mailer, rules, storage, templates, xlsxguard
from .settings import UploadSettings

log = logging.getLogger(__name__)


class Settings(DependencyProvider):
    def setup(self):
        self.settings = UploadSettings.from_config(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.settings


def _b64(data):
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


class UploadsService:
    name = "uploads"

    db = Database("uploads")
    settings = Settings()
    users = ServiceRpc("users")
    students = ServiceRpc("students", deadline="write")
    # loading a chunk of a list may take a while on a busy students service
    students_load = ServiceRpc("students", deadline="load")

    def _jobs(self):
        return jobs.Jobs(self.db, self.settings, self.students, self.students_load, self.users)

    @domain_rpc
    def health(self):
        return self.db.health()

    # --- templates -----------------------------------------------------------
    @domain_rpc
    def template(self, school_type, student_type):
        if school_type not in colspec.SCHOOL_TYPES or student_type not in colspec.STUDENT_TYPES:
            raise DomainError("template_invalid", "Kies schoolsoort vo of mbo en soort leerlingen "
                              "potential_transfer of non_transfer.", status=422)
        return {"filename": colspec.template_filename(school_type, student_type),
                "content_b64": _b64(templates.template_bytes(school_type, student_type))}

    # --- submissions ------------------------------------------------------------
    def _submit(self, inst, data, filename, content_b64, source, submitted_by):
        """`inst`: the institution record (id, school_type)."""
        limits = self.settings.limits
        fields = handlers.check_submission_fields(data)
        mismatch = rules.school_type_mismatch(fields["school_type"], inst.get("school_type"))
        if mismatch is not None:
            raise DomainError(mismatch["code"], mismatch["message"], status=422,
                              field="school_type", errors=[mismatch])
        content = decode_file(content_b64, limits)
        info = tpool.execute(xlsxguard.inspect_xlsx, content, limits)
        with self.db() as uow:
            return handlers.create_submission(uow, self.settings, inst["id"], fields,
                                              filename, content, info, source, submitted_by)

    @domain_rpc
    def submit(self, institution_id, data, filename, content_b64, actor=None):
        """A student list from the portal → {id, status: validating}; the check
        follows in the background."""
        inst = self.users.get_institution(institution_id)
        if inst.get("is_platform"):
            raise DomainError("not_found", "Instelling niet gevonden.", status=404)
        return self._submit(inst, data, filename, content_b64, "portal",
                            (actor or {}).get("code"))

    @domain_rpc
    def submit_public(self, upload_code, data, filename, content_b64, client=None):
        """A student list sent with an institution's upload code (no account)."""
        with self.db() as uow:
            key = handlers.check_rate(uow, self.settings, client)
        code = upload_code.strip() if isinstance(upload_code, str) else ""
        inst = None
        if code and len(code) <= 64:
            try:
                inst = self.users.institution_by_upload_code(code)
            except DomainError as exc:
                if exc.status != 404:
                    raise
        with self.db() as uow:
            handlers.record_attempt(uow, key, ok=inst is not None)
        if inst is None:
            message = "De uploadcode is onbekend. Vraag de juiste code na bij uw school."
            raise DomainError("upload_code_invalid", message, status=422, field="upload_code",
                              errors=[error_item("upload_code_invalid", message,
                                                 field="upload_code")])
        result = self._submit(inst, data, filename, content_b64, "public", None)
        return {"id": result["id"], "status": result["status"]}

    @domain_rpc
    def get_submission(self, submission_id, institution_id=None, errors_offset=0,
                       errors_limit=handlers.DEFAULT_ERRORS_SHOWN):
        with self.db() as uow:
            return handlers.get_submission(uow, submission_id, institution_id, errors_offset,
                                           errors_limit)

    @domain_rpc
    def submission_rows(self, submission_id, institution_id=None, page=1, page_size=50):
        with self.db() as uow:
            return handlers.submission_rows(uow, self.settings.data_dir, submission_id,
                                            institution_id, page, page_size)

    @domain_rpc
    def list_submissions(self, institution_id=None, status=None, page=1, page_size=50):
        with self.db() as uow:
            return handlers.list_submissions(uow, institution_id, status, page, page_size)

    @domain_rpc
    def report(self, submission_id, institution_id=None):
        """report.xlsx of a checked list: built after a rejection, else on demand."""
        with self.db() as uow:
            sub = handlers.load_submission(uow.session, submission_id, institution_id)
            status, ready, purged, sid = sub.status, sub.report_ready, sub.purged_at, sub.id
        if status == "validating":
            raise DomainError("report_not_ready", "De lijst wordt nog gecontroleerd; het "
                              "rapport volgt daarna.", status=409)
        if purged is not None:
            raise DomainError("purged", "Het bestand is na de bewaartermijn verwijderd.",
                              status=410)
        path = storage.submission_dir(self.settings.data_dir, sid) / storage.REPORT
        if ready and path.exists():
            data = path.read_bytes()
        else:
            data = self._jobs().build_report(sid)
        return {"filename": f"rapport-leerlinglijst-{sid}.xlsx", "content_b64": _b64(data)}

    @domain_rpc
    def approve(self, submission_id, actor=None, project_id=None):
        with self.db() as uow:
            return handlers.approve(uow, submission_id, (actor or {}).get("code"), project_id)

    @domain_rpc
    def decline(self, submission_id, actor=None, reason=None):
        with self.db() as uow:
            result, changed = handlers.decline(uow, submission_id, (actor or {}).get("code"),
                                               reason)
        if changed:
            mailer.notify("declined", result, self.settings)
        return result

    # --- background work ----------------------------------------------------------
    @event_handler("uploads", "submission_received")
    def on_submission_received(self, payload):
        self._jobs().validate(payload["data"]["submission_id"])

    @durable_event_handler("uploads", "submission_validated")
    def on_submission_validated(self, payload):
        """A list awaiting review: the helpdesk gets one notice (jobs.notify_helpdesk).
        A failure (users service down) is retried with back-off, then parked
        (services/common/durable.py)."""
        data = parse_envelope(payload, "submission_validated").data
        submission_id = data.get("submission_id")
        if isinstance(submission_id, bool) or not isinstance(submission_id, int) \
                or not 0 < submission_id <= MAX_INSTITUTION_ID:
            raise PermanentEventError("data.submission_id is missing or out of range")
        if data.get("status") != "awaiting_review":
            return
        self._jobs().notify_helpdesk(submission_id)

    @event_handler("uploads", "submission_approved")
    def on_submission_approved(self, payload):
        self._jobs().load(payload["data"]["submission_id"])

    @timer(interval=5)
    def resume_work(self):
        """Validation or loading whose worker went quiet is taken up again."""
        with self.db() as uow:
            stale = handlers.stale_work(uow, self.settings.stale_seconds)
        work = self._jobs()
        for submission_id, status in stale:
            try:
                if status == "validating":
                    work.validate(submission_id)
                else:
                    work.load(submission_id)
            except Exception:
                log.exception("resuming submission %s failed", submission_id)

    @timer(interval=3600)
    def purge_files(self):
        with self.db() as uow:
            handlers.purge_files(uow, self.settings)

    # --- CSV imports -------------------------------------------------------------------
    @domain_rpc
    def create_import(self, institution_id, kind, filename, content_b64, delimiter=None,
                      encoding=None, actor=None):
        content = decode_file(content_b64, self.settings.limits)
        with self.db() as uow:
            return imports.create_import(uow, self.settings, institution_id, kind, filename,
                                         content, delimiter, encoding, (actor or {}).get("code"))

    @domain_rpc
    def list_imports(self, institution_id, kind=None, status=None, page=1, page_size=50):
        with self.db() as uow:
            return imports.list_imports(uow, institution_id, kind, status, page, page_size)

    @domain_rpc
    def get_import(self, import_id, institution_id, preview_rows=None, sample_rows=0):
        with self.db() as uow:
            return imports.get_import(uow, import_id, institution_id, preview_rows,
                                      sample_rows, self.settings)

    @domain_rpc
    def import_rows(self, import_id, institution_id, page=1, page_size=50, action=None):
        with self.db() as uow:
            return imports.import_rows(uow, import_id, institution_id, page, page_size, action)

    @domain_rpc
    def preview_import(self, import_id, institution_id, mapping, preview_rows=None):
        return imports.preview(self.db, self.settings, self.users, self.students, import_id,
                               institution_id, mapping, preview_rows)

    @domain_rpc
    def commit_import(self, import_id, institution_id, actor=None):
        return imports.commit(self.db, self.settings, self.users, self.students, import_id,
                              institution_id, actor)

    @domain_rpc
    def start_commit_import(self, import_id, institution_id, actor=None):
        """The commit in the background (202): the import with its progress."""
        return imports.start_commit(self.db, import_id, institution_id, actor)

    @event_handler("uploads", "import_commit_requested")
    def on_import_commit_requested(self, payload):
        imports.run_commit(self.db, self.users, self.students, payload["data"]["import_id"],
                           str(uuid.uuid4()), self.settings.stale_seconds)

    @timer(interval=5)
    def resume_commits(self):
        """Background commits that were never taken up (a lost event) or whose
        worker went quiet: taken up, or marked as interrupted."""
        with self.db() as uow:
            stale = imports.stale_commits(uow, self.settings.stale_seconds)
        for import_id in stale:
            try:
                imports.run_commit(self.db, self.users, self.students, import_id,
                                   str(uuid.uuid4()), self.settings.stale_seconds)
            except Exception:
                log.exception("resuming the commit of import %s failed", import_id)

    @domain_rpc
    def undo_import(self, import_id, institution_id, actor=None):
        return imports.undo(self.db, self.users, self.students, import_id, institution_id)

    # --- outbox ---------------------------------------------------------------------
    @timer(interval=2)
    def relay_outbox(self):
        self.db.relay_outbox()
