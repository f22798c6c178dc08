"""The oso service: OSO transfer dossiers by BSN (docs/oso.md).

    nameko run --config deploy/config.yaml services.oso.service

Entrypoints only; the use cases are in one module per job
(worklist.py, batches.py, dossiers.py, enrolment.py, ...), the rules in rules.py.
The gateway passes institution_id explicitly and does the role and tenancy
checks. Executing actions is queued by `start_actions` and worked off by the
`process_batches` timer, so it survives a restart and spreads over instances.
"""
import logging

from nameko.timer import timer

from services.common.db import Database
from services.common.errors import DomainError
from services.common.rpc import ServiceRpc, domain_rpc

from . import batches, delivery_points, dossiers, enrolment, helpers, rules, worklist
from .settings import OsoSettings
from .sources import SourceError

log = logging.getLogger(__name__)


class OsoService:
    name = "oso"

    db = Database("oso")
    settings = OsoSettings()
    users = ServiceRpc("users")
    students = ServiceRpc("students")

    @domain_rpc
    def health(self):
        try:
            with self.db() as uow:
                return helpers.health(uow)
        except Exception:
            raise DomainError("unavailable", "De OSO-dienst kan zijn database niet bereiken.",
                              status=503) from None

    @domain_rpc
    def configuration(self):
        """Which source and whether official validation is on (no secrets)."""
        return self.settings.describe()

    # --- delivery point ------------------------------------------------------------

    @domain_rpc
    def list_delivery_points(self, institution_id):
        with self.db() as uow:
            return delivery_points.list_delivery_points(uow, institution_id)

    @domain_rpc
    def register_delivery_point(self, institution_id, data, actor=None):
        institution = self.users.get_institution(institution_id)
        try:
            brin_of_key = self.settings.source().brin_of_key
        except SourceError:
            brin_of_key = lambda _number, key: rules.key_brin(key)  # noqa: E731
        with self.db() as uow:
            return delivery_points.register_delivery_point(uow, institution_id, institution, data,
                                                    brin_of_key, actor)

    # --- worklist ------------------------------------------------------------------

    @domain_rpc
    def list_worklist(self, institution_id, page=1, page_size=50, status=None):
        with self.db() as uow:
            return worklist.list_worklist(uow, institution_id, page, page_size, status)

    @domain_rpc
    def add_to_worklist(self, institution_id, data, actor=None):
        with self.db() as uow:
            return worklist.add_to_worklist(uow, institution_id, data, actor)

    @domain_rpc
    def import_worklist(self, institution_id, filename, content_b64, actor=None):
        with self.db() as uow:
            return worklist.import_worklist(uow, institution_id, filename, content_b64, actor)

    @domain_rpc
    def remove_from_worklist(self, institution_id, number, actor=None):
        with self.db() as uow:
            return worklist.remove_from_worklist(uow, institution_id, number, actor)

    # --- actions -------------------------------------------------------------------

    @domain_rpc
    def start_actions(self, institution_id, data, actor=None):
        try:
            self.settings.source()
        except SourceError as exc:
            # no source set up is the school's configuration, not an outage: 409
            status = 409 if exc.code == "source_not_configured" else 503
            raise DomainError(exc.code, exc.message, status=status, field="source") from None
        with self.db() as uow:
            return batches.start_actions(uow, institution_id, data, actor)

    @domain_rpc
    def get_batch(self, institution_id, batch_id):
        with self.db() as uow:
            return batches.get_batch(uow, institution_id, batch_id)

    @timer(interval=0.5)
    def process_batches(self):
        while True:
            with self.db() as uow:
                batch_id = batches.claim_batch(uow)
            if batch_id is None:
                return
            batches.run_batch(self.db, batch_id, self.settings.source,
                               self.settings.validator)

    # --- dossiers ------------------------------------------------------------------

    @domain_rpc
    def get_dossier(self, institution_id, number, actor=None):
        with self.db() as uow:
            return dossiers.get_dossier(uow, institution_id, number, actor)

    @domain_rpc
    def get_source_file(self, institution_id, number, actor=None):
        with self.db() as uow:
            return dossiers.get_source_file(uow, institution_id, number, actor)

    @domain_rpc
    def get_attachment(self, institution_id, number, ref, actor=None):
        with self.db() as uow:
            return dossiers.get_attachment(uow, institution_id, number, ref, actor)

    @domain_rpc
    def update_report(self, institution_id, number, changes, actor=None):
        with self.db() as uow:
            return dossiers.update_report(uow, institution_id, number, changes, actor)

    @domain_rpc
    def finalize_report(self, institution_id, number, actor=None):
        with self.db() as uow:
            return dossiers.finalize_report(uow, institution_id, number, actor)

    @domain_rpc
    def enrol(self, institution_id, number, data, actor=None):
        """Create the student from the dossier's personal data (students service)."""
        data = data or {}
        student_type = data.get("type") or "potential_transfer"
        with self.db() as uow:
            student_data = enrolment.enrol_data(uow, institution_id, number,
                                               data.get("student_number"), student_type)
        student = self.students.create_student(institution_id, student_data, actor)
        with self.db() as uow:
            dossier = enrolment.mark_enrolled(uow, institution_id, number,
                                             student.get("student_number")
                                             or student_data["student_number"], actor)
        return {"student": student, "dossier": dossier}

    # --- outbox --------------------------------------------------------------------

    @timer(interval=2)
    def relay_outbox(self):
        self.db.relay_outbox()
