"""The oso service: OSO transfer dossiers by BSN (docs/oso.md).

    nameko run --config deploy/config.yaml services.oso.service

Entrypoints only; the use cases are in one module per job (delivery_points.py,
worklist.py, batches.py, dossiers.py, enrolment.py), the configured source and
validator in settings.py, the rules in rules.py.
The gateway passes institution_id explicitly and does the role and tenancy
checks. Executing actions is queued by `start_actions` and worked off by the
`process_batches` timer, so it survives a restart and spreads over instances.
"""
from nameko.timer import timer

from services.common.db import Database
from services.common.filestore import Files, hand_out
from services.common.rpc import ServiceRpc, domain_rpc

from . import batches, delivery_points, dossiers, enrolment, worklist
from .settings import OsoSettings


class OsoService:
    name = "oso"

    db = Database("oso")
    settings = OsoSettings()
    files = Files()
    users = ServiceRpc("users")
    students = ServiceRpc("students")

    @domain_rpc
    def health(self):
        return self.db.health()

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
        brin_of_key = delivery_points.brin_of_key(self.settings.source)
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
    def import_worklist(self, institution_id, filename, file, actor=None):
        """`file`: a file store reference to the uploaded .xlsx (base64 text
        still accepted); the incoming file is deleted once read."""
        with self.db() as uow:
            return worklist.import_worklist(uow, institution_id, filename, file, actor,
                                            self.files)

    @domain_rpc
    def remove_from_worklist(self, institution_id, number, actor=None):
        with self.db() as uow:
            return worklist.remove_from_worklist(uow, institution_id, number, actor)

    # --- actions -------------------------------------------------------------------

    @domain_rpc
    def start_actions(self, institution_id, data, actor=None):
        batches.require_source(self.settings.source)
        with self.db() as uow:
            return batches.start_actions(uow, institution_id, data, actor)

    @domain_rpc
    def get_batch(self, institution_id, batch_id):
        with self.db() as uow:
            return batches.get_batch(uow, institution_id, batch_id)

    @timer(interval=0.5)
    def process_batches(self):
        batches.process_batches(self.db, self.settings.source, self.settings.validator)

    # --- dossiers ------------------------------------------------------------------

    @domain_rpc
    def get_dossier(self, institution_id, number, actor=None):
        with self.db() as uow:
            return dossiers.get_dossier(uow, institution_id, number, actor)

    @domain_rpc
    def get_source_file(self, institution_id, number, actor=None):
        """The dossier's XML: {filename, content_type, file: a file store reference}."""
        with self.db() as uow:
            return hand_out(self.files, dossiers.get_source_file(uow, institution_id, number,
                                                                 actor))

    @domain_rpc
    def get_attachment(self, institution_id, number, ref, actor=None):
        """{filename, content_type, size, description, file: a file store reference}."""
        with self.db() as uow:
            return hand_out(self.files, dossiers.get_attachment(uow, institution_id, number,
                                                                ref, actor))

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
        return enrolment.enrol(self.db, self.students, institution_id, number, data, actor)

    # --- outbox --------------------------------------------------------------------

    @timer(interval=2)
    def relay_outbox(self):
        self.db.relay_outbox()
