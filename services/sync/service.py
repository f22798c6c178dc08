"""The sync service: the portal connector between Leerlingbus and a scheduling
desktop (docs/connector.md).

    nameko run --config deploy/config.yaml services.sync.service

Entrypoints only; the use cases are in snapshots.py, download.py, upload.py and
mutation_feed.py (sharing store.py, portal.py, selection.py), the comparison in
diff.py, diff_packages.py and compare.py, the status kept per student in
incremental.py and kept.py (current as events arrive: refresh.py), a download's effect on the snapshot
in apply_download.py, the upload plans in plans.py, the rules in rules.py and
snapshot_check.py, the mutation feed's mapping in feed.py. The gateway passes
institution_id explicitly and does the role and tenancy checks; a project of
another institution is a 404 from the students service.
"""
import logging

from nameko.dependency_providers import Config
from nameko.timer import timer

from services.common.db import Database
from services.common.durable import durable_event_handler
from services.common.rpc import ServiceRpc, domain_rpc

from . import download, mutation_feed, refresh, snapshots, upload

log = logging.getLogger(__name__)

# Uploads of a few hundred students take longer than a single lookup.


def _feed_handler(source, event_type):
    def handle(self, payload):
        return self._record(source, payload)
    handle.__name__ = f"on_{event_type}"
    handle.__doc__ = f"Feed entry for {source}.{event_type}."
    return durable_event_handler(source, event_type)(handle)


class SyncService:
    name = "sync"

    db = Database("sync")
    students = ServiceRpc("students", deadline="write")
    users = ServiceRpc("users", deadline="write")
    config = Config()

    @domain_rpc
    def health(self):
        return self.db.health()

    # --- the snapshot ------------------------------------------------------------------

    @domain_rpc
    def put_snapshot(self, institution_id, project_id, snapshot):
        with self.db() as uow:
            return snapshots.put_snapshot(uow, self.students, self.users, institution_id,
                                         project_id, snapshot)

    @domain_rpc
    def get_snapshot(self, institution_id, project_id):
        with self.db() as uow:
            return snapshots.get_snapshot(uow, self.students, institution_id, project_id)

    # --- compare -------------------------------------------------------------------------

    @domain_rpc
    def status(self, institution_id, project_id, refresh=False):
        with self.db() as uow:
            return snapshots.status(uow, self.students, self.users, institution_id,
                                   project_id, refresh)

    @domain_rpc
    def differences(self, institution_id, project_id, category, department=None):
        with self.db() as uow:
            return snapshots.differences(uow, self.students, self.users, institution_id,
                                        project_id, category, department)

    # --- move changes ----------------------------------------------------------------------

    @domain_rpc
    def download(self, institution_id, project_id, category, departments=None,
                 student_numbers=None):
        with self.db() as uow:
            return download.download(uow, self.students, self.users, institution_id,
                                     project_id, category, departments, student_numbers)

    @domain_rpc
    def upload(self, institution_id, project_id, category, departments=None,
               student_numbers=None):
        with self.db() as uow:
            return upload.upload(uow, self.students, self.users, institution_id,
                                   project_id, category, departments, student_numbers)

    # --- the mutation feed -----------------------------------------------------------------

    @domain_rpc
    def mutations(self, institution_id, project_id, since=None, page=1, page_size=500):
        with self.db() as uow:
            return mutation_feed.list_mutations(uow, self.students, institution_id, project_id,
                                           since, page, page_size)

    def _record(self, source, payload):
        with self.db() as uow:
            return mutation_feed.on_event(uow, source, payload)

    on_user_created = _feed_handler("users", "user_created")
    on_users_created_batch = _feed_handler("users", "users_created_batch")
    on_user_updated = _feed_handler("users", "user_updated")
    on_user_archived = _feed_handler("users", "user_archived")
    on_user_unarchived = _feed_handler("users", "user_unarchived")
    on_student_registered = _feed_handler("students", "student_registered")
    on_students_registered_batch = _feed_handler("students", "students_registered_batch")
    on_student_updated = _feed_handler("students", "student_updated")
    on_student_left = _feed_handler("students", "student_left")
    on_participation_created = _feed_handler("students", "participation_created")
    on_participations_created_batch = _feed_handler("students",
                                                    "participations_created_batch")
    on_participation_changed = _feed_handler("students", "participation_changed")
    on_participation_removed = _feed_handler("students", "participation_removed")
    on_package_changed = _feed_handler("students", "package_changed")
    on_home_class_changed = _feed_handler("students", "home_class_changed")
    on_group_members_changed = _feed_handler("students", "group_members_changed")

    # --- the status kept current as the portal changes (refresh.py) ------------------------

    @timer(interval=5)
    def refresh_stale(self):
        refresh.refresh_pending(self.db, self.students, self.users)

    # --- outbox ----------------------------------------------------------------------------

    @timer(interval=2)
    def relay_outbox(self):
        self.db.relay_outbox()


