"""The students service: student records, placements, packages, groups, a
student leaving school.

    nameko run --config deploy/config.yaml services.students.service

Entrypoints only; the use cases are in the handlers package (student records)
and the placements package (projects, departments, participations, packages,
groups), the rules in the rules package. Every RPC answers plain JSON-able values or raises
DomainError. The gateway passes institution_id explicitly, does the role and
tenancy checks, and passes `actor` = {"user_id", "code", "roles"} where the
service needs to know who acts (BSN audit, the mentor rule).
"""
import logging

from eventlet.semaphore import Semaphore
from nameko.dependency_providers import Config
from nameko.timer import timer

from services.common.db import Database
from services.common.durable import durable_event_handler
from services.common.rpc import ServiceRpc, domain_rpc

from . import accounts, handlers, mentors, placements, rules


log = logging.getLogger(__name__)

# How often planned leaves whose day has come are carried out (seconds).
PLANNED_LEAVES_INTERVAL = 600

# create_students' own work (checking a batch, writing it) one batch at a time
# per process, so the batches of a list load pipeline with the users service
# (handlers.create_many.create_students).
BATCH_LANE = Semaphore(1)


class StudentsService:
    name = "students"

    db = Database("students")
    # Calls to the users service wait at most this long (then 503
    # service_unavailable); batches of thousands of rows get more time.
    users = ServiceRpc("users")
    users_batch = ServiceRpc("users", deadline="load")
    config = Config()

    @domain_rpc
    def health(self):
        return self.db.health()

    # --- student records ----------------------------------------------------------

    @domain_rpc
    def create_student(self, institution_id, data, actor=None, request_id=None):
        """`request_id`: the same on a retry of one client request (resumable)."""
        with self.db() as uow:
            return handlers.create_student(uow, self.users, institution_id, data, actor,
                                           request_id)

    @domain_rpc
    def create_students(self, institution_id, rows, project_id=None, actor=None,
                        origin_key=None):
        """`origin_key`: the operation (a list load), stored with what it creates."""
        with self.db() as uow:
            uow.publish_later, uow.lane = True, BATCH_LANE
            return handlers.create_students(uow, self.users_batch, institution_id, rows,
                                            project_id, actor, origin_key)

    @domain_rpc
    def count_by_origin(self, institution_id, origin_key):
        """How many records the operation `origin_key` stored."""
        with self.db() as uow:
            return handlers.count_by_origin(uow, institution_id, origin_key)

    @domain_rpc
    def register_students(self, institution_id, codes):
        """A record for every student account among `codes` that has none
        (accounts made by the users service alone); idempotent."""
        with self.db() as uow:
            return accounts.register_students(uow, self.users_batch, institution_id, codes)

    @domain_rpc
    def get_student(self, institution_id, student_number, reveal_bsn=False, actor=None):
        with self.db() as uow:
            return handlers.get_student(uow, self.users, institution_id, student_number,
                                        reveal_bsn, actor)

    @domain_rpc
    def update_student(self, institution_id, student_number, changes, actor=None):
        with self.db() as uow:
            return handlers.update_student(uow, self.users, institution_id, student_number,
                                           changes, actor)

    @domain_rpc
    def list_students(self, institution_id, q=None, home_class=None, year_of_education=None,
                      track=None, registered=None, type=None, page=1, page_size=50, left=None):
        with self.db() as uow:
            return handlers.list_students(uow, self.users, institution_id, q, home_class,
                                          year_of_education, track, registered, type,
                                          page, page_size, left)

    @domain_rpc
    def leave_student(self, institution_id, student_number, date=None, actor=None):
        with self.db() as uow:
            return handlers.leave_student(uow, self.users, institution_id, student_number,
                                          date, actor)

    @domain_rpc
    def cancel_leave(self, institution_id, student_number, actor=None):
        with self.db() as uow:
            return handlers.cancel_leave(uow, self.users, institution_id, student_number, actor)

    @domain_rpc
    def run_planned_leaves(self, as_of=None):
        """Carry out the planned leaves due on `as_of` (YYYY-MM-DD; default
        today). The timer below does this; operators may too."""
        day = rules.clean_as_of(as_of)
        with self.db() as uow:
            return {"carried_out": handlers.carry_out_planned_leaves(uow, self.users, day)}

    @timer(interval=300)
    def sweep_unfinished_creates(self):
        """Accounts left by a single create that crashed and was never retried."""
        try:
            with self.db() as uow:
                accounts.sweep_unfinished_creates(uow, self.users)
        except Exception:
            log.exception("sweeping unfinished creates failed; tried again later")

    @timer(interval=PLANNED_LEAVES_INTERVAL)
    def planned_leaves(self):
        with self.db() as uow:
            done = handlers.carry_out_planned_leaves(uow, self.users)
        if done:
            log.info("carried out %d planned leave(s)", len(done))

    @domain_rpc
    def bsn_audit(self, institution_id, student_number=None, page=1, page_size=50):
        with self.db() as uow:
            return handlers.bsn_audit_trail(uow, institution_id, student_number, page,
                                            page_size)

    # --- projects and departments ---------------------------------------------------

    @domain_rpc
    def create_project(self, institution_id, data):
        with self.db() as uow:
            return placements.create_project(uow, institution_id, data)

    @domain_rpc
    def list_projects(self, institution_id, page=1, page_size=500):
        with self.db() as uow:
            return placements.list_projects(uow, institution_id, page, page_size)

    @domain_rpc
    def get_project(self, institution_id, project_id):
        with self.db() as uow:
            return placements.get_project(uow, institution_id, project_id)

    @domain_rpc
    def create_department(self, institution_id, project_id, data):
        with self.db() as uow:
            return placements.create_department(uow, institution_id, project_id, data)

    @domain_rpc
    def list_departments(self, institution_id, project_id, page=1, page_size=500):
        with self.db() as uow:
            return placements.list_departments(uow, institution_id, project_id, page,
                                               page_size)

    @domain_rpc
    def update_department(self, institution_id, project_id, department_code, changes):
        with self.db() as uow:
            return placements.update_department(uow, institution_id, project_id,
                                                department_code, changes)

    @domain_rpc
    def set_learning_paths(self, institution_id, project_id, department_code, paths):
        with self.db() as uow:
            return placements.set_learning_paths(uow, institution_id, project_id,
                                                 department_code, paths)

    # --- participations and packages ---------------------------------------------------

    @domain_rpc
    def create_participation(self, institution_id, project_id, data, actor=None):
        with self.db() as uow:
            return placements.create_participation(uow, institution_id, project_id, data,
                                                   actor)

    @domain_rpc
    def create_participations(self, institution_id, project_id, rows):
        """Many participations (an import), all or nothing per student."""
        return placements.create_participations(self.db, institution_id, project_id, rows)

    @domain_rpc
    def check_new_participations(self, institution_id, project_id, rows):
        with self.db() as uow:
            return placements.check_new_participations(uow, institution_id, project_id, rows)

    @domain_rpc
    def list_participations(self, institution_id, project_id, department=None, page=1,
                            page_size=50, student_number=None, home_class=None, names=False):
        with self.db() as uow:
            return placements.list_participations(uow, institution_id, project_id,
                                                  department, page, page_size, student_number,
                                                  home_class, self.users if names else None)

    # --- mentors -------------------------------------------------------------------------

    @domain_rpc
    def get_mentor_classes(self, institution_id, code):
        with self.db() as uow:
            return mentors.get_mentor_classes(uow, institution_id, code)

    @domain_rpc
    def set_mentor_classes(self, institution_id, code, home_classes):
        with self.db() as uow:
            return mentors.set_mentor_classes(uow, self.users, institution_id, code,
                                              home_classes)

    @domain_rpc
    def mentor_students(self, institution_id, code, project_id=None, page=1, page_size=50):
        with self.db() as uow:
            return mentors.mentor_students(uow, self.users, institution_id, code, project_id,
                                           page, page_size)

    @domain_rpc
    def list_student_participations(self, institution_id, student_number, page=1,
                                    page_size=50):
        with self.db() as uow:
            return placements.list_student_participations(uow, institution_id, student_number,
                                                          page, page_size)

    @domain_rpc
    def get_participation(self, institution_id, participation_id):
        with self.db() as uow:
            return placements.get_participation(uow, institution_id, participation_id)

    @domain_rpc
    def update_participation(self, institution_id, participation_id, changes, actor=None):
        with self.db() as uow:
            return placements.update_participation(uow, institution_id, participation_id,
                                                   changes, actor)

    @domain_rpc
    def delete_participation(self, institution_id, participation_id, actor=None):
        with self.db() as uow:
            return placements.delete_participation(uow, institution_id, participation_id,
                                                   actor)

    @domain_rpc
    def get_package(self, institution_id, participation_id):
        with self.db() as uow:
            return placements.get_package(uow, institution_id, participation_id)

    @domain_rpc
    def set_package(self, institution_id, participation_id, subjects, exemptions):
        with self.db() as uow:
            return placements.set_package(uow, institution_id, participation_id, subjects,
                                          exemptions)

    # --- groups and the export ------------------------------------------------------------

    @domain_rpc
    def create_group(self, institution_id, project_id, data):
        with self.db() as uow:
            return placements.create_group(uow, institution_id, project_id, data)

    @domain_rpc
    def list_groups(self, institution_id, project_id, page=1, page_size=500):
        with self.db() as uow:
            return placements.list_groups(uow, institution_id, project_id, page, page_size)

    @domain_rpc
    def set_group_members(self, institution_id, group_id, student_numbers, actor=None):
        with self.db() as uow:
            return placements.set_group_members(uow, institution_id, group_id,
                                                student_numbers, actor)

    @domain_rpc
    def placements_csv(self, institution_id, project_id):
        with self.db() as uow:
            return placements.placements_csv(uow, institution_id, project_id)

    # --- events from the users service --------------------------------------------------

    # Durable consumers (services/common/durable.py): a failure is retried with
    # back-off, then parked; a malformed event is parked at once.
    def _handle_event(self, handler, payload, *args):
        with self.db() as uow:
            return handler(uow, *args, payload)

    @durable_event_handler("users", "user_archived")
    def on_user_archived(self, payload):
        """A user archived directly (not through leave_student): remove the
        student's current and next year's participations, as leave does."""
        return self._handle_event(handlers.on_user_archived, payload)

    @durable_event_handler("users", "user_unarchived")
    def on_user_unarchived(self, payload):
        return self._handle_event(handlers.on_user_unarchived, payload)

    # Every student user has a record (accounts.py): the safety net behind
    # register_students, for accounts made by the users service alone.
    @durable_event_handler("users", "user_created")
    def on_user_created(self, payload):
        return self._handle_event(accounts.on_user_created, payload, self.users)

    @durable_event_handler("users", "users_created_batch")
    def on_users_created_batch(self, payload):
        return self._handle_event(accounts.on_users_created_batch, payload, self.users_batch)

    @durable_event_handler("users", "user_updated")
    def on_user_updated(self, payload):
        return self._handle_event(accounts.on_user_updated, payload, self.users)

    @durable_event_handler("users", "user_discarded")
    def on_user_discarded(self, payload):
        return self._handle_event(accounts.on_user_discarded, payload)

    @durable_event_handler("users", "users_discarded_batch")
    def on_users_discarded_batch(self, payload):
        return self._handle_event(accounts.on_users_discarded_batch, payload)

    # --- outbox ---------------------------------------------------------------------------

    @timer(interval=2)
    def relay_outbox(self):
        self.db.relay_outbox()

    # --- lookup for the uploads service (added by the uploads work; kept tiny) ------------

    @domain_rpc
    def bsn_by_student_numbers(self, institution_id, student_numbers):
        with self.db() as uow:
            return handlers.bsn_by_student_numbers(uow, institution_id, student_numbers)

    # --- the portal connector's bulk read (services/sync; query in state.py) --------------

    @domain_rpc
    def project_state(self, institution_id, project_id):
        from . import state
        with self.db() as uow:
            return state.project_state(uow, institution_id, project_id)


