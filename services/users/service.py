"""The users service: institutions, accounts, personal data, roles, archive.

Entrypoints only. The use cases, one module per job: institutions.py,
accounts.py (creating, and its compensation), account_changes.py,
account_queries.py, auth.py; store.py holds what they share. The rules:
rules.py and one module per area (institution_rules.py, account_rules.py,
throttle.py, search.py).

Every RPC answers plain JSON-able values or raises DomainError (which the
caller receives as a DomainError). The gateway passes institution_id
explicitly and does the role and tenancy checks.
"""
from eventlet.semaphore import Semaphore
from nameko.timer import timer

from services.common.db import Database
from services.common.rpc import domain_rpc

from . import account_changes, account_queries, accounts, auth, institutions

# create_users' own work on a batch (checking rows, writing them) one batch at
# a time per process (UnitOfWork.lane): the batches of a list load then come
# back one by one, as each is done, and pipeline with the students service.
BATCH_LANE = Semaphore(1)


class UsersService:
    name = "users"

    db = Database("users")

    @domain_rpc
    def health(self):
        return self.db.health()

    # --- auth -----------------------------------------------------------------

    @domain_rpc
    def authenticate(self, institution, code, password):
        with self.db() as uow:
            return auth.authenticate(uow, institution, code, password)

    @domain_rpc
    def get_principal(self, user_id):
        with self.db() as uow:
            return auth.get_principal(uow, user_id)

    # --- institutions -----------------------------------------------------------

    @domain_rpc
    def create_institution(self, data):
        with self.db() as uow:
            return institutions.create_institution(uow, data)

    @domain_rpc
    def list_institutions(self, page=1, page_size=50):
        with self.db() as uow:
            return institutions.list_institutions(uow, page, page_size)

    @domain_rpc
    def get_institution(self, institution_id):
        with self.db() as uow:
            return institutions.get_institution(uow, institution_id)

    @domain_rpc
    def get_upload_code(self, institution_id):
        with self.db() as uow:
            return institutions.get_upload_code(uow, institution_id)

    @domain_rpc
    def rotate_upload_code(self, institution_id):
        with self.db() as uow:
            return institutions.rotate_upload_code(uow, institution_id)

    @domain_rpc
    def helpdesk_email(self):
        """The e-mail address of the platform's helpdesk account, or None."""
        with self.db() as uow:
            return institutions.helpdesk_email(uow)

    @domain_rpc
    def institution_by_upload_code(self, code):
        with self.db() as uow:
            return institutions.institution_by_upload_code(uow, code)

    # --- users ------------------------------------------------------------------

    @domain_rpc
    def create_user(self, institution_id, data, origin=None, origin_key=None):
        with self.db() as uow:
            return accounts.create_user(uow, institution_id, data, origin, origin_key)

    @domain_rpc
    def create_users(self, institution_id, rows, batch_events=False, origin=None,
                     origin_key=None, brief=False):
        with self.db() as uow:
            uow.publish_later, uow.lane = bool(batch_events), BATCH_LANE
            return accounts.create_users(uow, institution_id, rows, batch_events, origin,
                                         origin_key, brief)

    @domain_rpc
    def discard_users(self, institution_id, codes, batch_events=False):
        """Compensation for a failed composite create (see accounts.discard_users)."""
        with self.db() as uow:
            return accounts.discard_users(uow, institution_id, codes, batch_events)

    @domain_rpc
    def unfinished_accounts(self, key_prefix, min_age_seconds):
        """Accounts of operations (origin key prefix) whose creator may not have
        finished: see accounts.unfinished_accounts."""
        with self.db() as uow:
            return accounts.unfinished_accounts(uow, key_prefix, min_age_seconds)

    @domain_rpc
    def update_user(self, institution_id, code, changes):
        with self.db() as uow:
            return account_changes.update_user(uow, institution_id, code, changes)

    @domain_rpc
    def update_users(self, institution_id, rows):
        with self.db() as uow:
            return account_changes.update_users(uow, institution_id, rows)

    @domain_rpc
    def get_user(self, institution_id, code):
        with self.db() as uow:
            return account_queries.get_user(uow, institution_id, code)

    @domain_rpc
    def get_users(self, institution_id, codes, fields=None):
        with self.db() as uow:
            return account_queries.get_users(uow, institution_id, codes, fields)

    @domain_rpc
    def list_users(self, institution_id, filter="all", q=None, page=1, page_size=50):
        with self.db() as uow:
            return account_queries.list_users(uow, institution_id, filter, q, page, page_size)

    @domain_rpc
    def find_codes(self, institution_id, q=None, registered=None, types=("student",)):
        with self.db() as uow:
            return account_queries.find_codes(uow, institution_id, q, registered, types)

    @domain_rpc
    def archive_user(self, institution_id, code):
        with self.db() as uow:
            return account_changes.archive_user(uow, institution_id, code)

    @domain_rpc
    def unarchive_user(self, institution_id, code):
        with self.db() as uow:
            return account_changes.unarchive_user(uow, institution_id, code)

    # --- outbox -------------------------------------------------------------------

    @timer(interval=2)
    def relay_outbox(self):
        self.db.relay_outbox()


