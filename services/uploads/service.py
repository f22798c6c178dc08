"""The uploads service: Excel templates, student-list submissions with their
check and helpdesk review, CSV imports from the administration.

    nameko run --config deploy/config.yaml services.uploads.service

Entrypoints only; the use cases are in the handlers package (submissions), the
imports package (CSV), jobs.py (background check and load). Files arrive as references
to incoming files in the shared file store (services/common/filestore.py; the gateway may
run on another machine), which keeps them (storage.py); base64 text is still accepted.
The gateway does role and tenancy checks and passes institution_id explicitly (None:
helpdesk, every institution).
"""
import logging
import uuid

from nameko.events import event_handler
from nameko.extensions import DependencyProvider
from nameko.timer import timer

from services.common.db import Database
from services.common.durable import durable_event_handler
from services.common.rpc import ServiceRpc, domain_rpc

from . import handlers, imports, jobs, mailer, memory
from .handlers import intake
from .readycheck import READY
from .settings import UploadSettings


log = logging.getLogger(__name__)

# received lists' buffers go back to the system when freed (memory.py)
memory.fix_mmap_threshold()


class Settings(DependencyProvider):
    def setup(self):
        self.settings = UploadSettings.from_config(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.settings


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
        return intake.template(school_type, student_type)

    # --- submissions ------------------------------------------------------------
    @domain_rpc
    def submit(self, institution_id, data, filename, file, actor=None):
        """A student list from the portal (`file`: a file store reference
        {key, size, sha256} of an incoming file) → {id, status: validating};
        the check follows in the background."""
        READY.prepare()  # a check process ready by the time the check starts
        return intake.submit_portal(self.db, self.settings, self.users, institution_id, data,
                                    filename, file, actor)

    @domain_rpc
    def submit_public(self, upload_code, data, filename, file, client=None):
        """A student list sent with an institution's upload code (no account)."""
        READY.prepare()
        return intake.submit_public(self.db, self.settings, self.users, upload_code, data,
                                    filename, file, client)

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
        """report.xlsx of a checked list: built after a rejection, else on
        demand; {filename, file: a file store reference}."""
        return intake.report(self.db, self.settings, self._jobs().build_report, submission_id,
                             institution_id)

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
        self._jobs().on_validated(payload)

    @event_handler("uploads", "submission_approved")
    def on_submission_approved(self, payload):
        self._jobs().load(payload["data"]["submission_id"])

    @timer(interval=5)
    def resume_work(self):
        """Validation or loading whose worker went quiet is taken up again."""
        self._jobs().resume_stale()

    @timer(interval=3600)
    def purge_files(self):
        with self.db() as uow:
            handlers.purge_files(uow, self.settings)

    @timer(interval=600)
    def sweep_orphans(self):
        """Files of the shared store nobody took up (an upload whose RPC failed,
        a download never finished) are deleted once older than
        LEERLINGBUS_FILESTORE_ORPHAN_SECONDS."""
        handlers.sweep_orphans(self.settings)

    # --- CSV imports -------------------------------------------------------------------
    @domain_rpc
    def create_import(self, institution_id, kind, filename, file, delimiter=None,
                      encoding=None, actor=None):
        """A CSV from the administration (`file`: a file store reference)."""
        return intake.create_import(self.db, self.settings, institution_id, kind, filename,
                                    file, delimiter, encoding, (actor or {}).get("code"))

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
        """Background commits that were never taken up or whose worker went quiet."""
        imports.resume_stale_commits(self.db, self.users, self.students,
                                     self.settings.stale_seconds)

    @domain_rpc
    def undo_import(self, import_id, institution_id, actor=None):
        return imports.undo(self.db, self.users, self.students, import_id, institution_id)

    # --- outbox ---------------------------------------------------------------------
    @timer(interval=2)
    def relay_outbox(self):
        self.db.relay_outbox()


