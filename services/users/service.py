"""The users service: institutions, accounts, personal data, roles, archive.

Entrypoints only; the use cases are in handlers.py, the rules in rules.py.
Every RPC answers plain JSON-able values or raises DomainError (which the
caller receives as a DomainError). The gateway passes institution_id
explicitly and does the role and tenancy checks.
"""
from nameko.timer import timer

from services.common.db import Database
from services.common.errors import DomainError
from services.common.rpc import domain_rpc

from . import handlers


class UsersService:
    name = "users"

    db = Database("users")

    @domain_rpc
    def health(self):
        try:
            with self.db() as uow:
                return handlers.health(uow)
        except Exception:
            raise DomainError("unavailable", "De gebruikersdienst kan zijn database niet "
                                             "bereiken.", status=503) from None

    # --- auth -----------------------------------------------------------------

    @domain_rpc
    def authenticate(self, institution, code, password):
        with self.db() as uow:
            return handlers.authenticate(uow, institution, code, password)

    @domain_rpc
    def get_principal(self, user_id):
        with self.db() as uow:
            return handlers.get_principal(uow, user_id)

    # --- institutions -----------------------------------------------------------

    @domain_rpc
    def create_institution(self, data):
        with self.db() as uow:
            return handlers.create_institution(uow, data)

    @domain_rpc
    def list_institutions(self, page=1, page_size=50):
        with self.db() as uow:
            return handlers.list_institutions(uow, page, page_size)

    @domain_rpc
    def get_institution(self, institution_id):
        with self.db() as uow:
            return handlers.get_institution(uow, institution_id)

    @domain_rpc
    def get_upload_code(self, institution_id):
        with self.db() as uow:
            return handlers.get_upload_code(uow, institution_id)

    @domain_rpc
    def rotate_upload_code(self, institution_id):
        with self.db() as uow:
            return handlers.rotate_upload_code(uow, institution_id)

    @domain_rpc
    def helpdesk_email(self):
        """The e-mail address of the platform's helpdesk account, or None."""
        with self.db() as uow:
            return handlers.helpdesk_email(uow)

    @domain_rpc
    def institution_by_upload_code(self, code):
        with self.db() as uow:
            return handlers.institution_by_upload_code(uow, code)

    # --- users ------------------------------------------------------------------

    @domain_rpc
    def create_user(self, institution_id, data, origin=None, origin_key=None):
        with self.db() as uow:
            return handlers.create_user(uow, institution_id, data, origin, origin_key)

    @domain_rpc
    def create_users(self, institution_id, rows, batch_events=False, origin=None,
                     origin_key=None):
        with self.db() as uow:
            return handlers.create_users(uow, institution_id, rows, batch_events, origin,
                                         origin_key)

    @domain_rpc
    def discard_users(self, institution_id, codes, batch_events=False):
        """Compensation for a failed composite create (see handlers.discard_users)."""
        with self.db() as uow:
            return handlers.discard_users(uow, institution_id, codes, batch_events)

    @domain_rpc
    def unfinished_accounts(self, key_prefix, min_age_seconds):
        """Accounts of operations (origin key prefix) whose creator may not have
        finished: see handlers.unfinished_accounts."""
        with self.db() as uow:
            return handlers.unfinished_accounts(uow, key_prefix, min_age_seconds)

    @domain_rpc
    def update_user(self, institution_id, code, changes):
        with self.db() as uow:
            return handlers.update_user(uow, institution_id, code, changes)

    @domain_rpc
    def update_users(self, institution_id, rows):
        with self.db() as uow:
            return handlers.update_users(uow, institution_id, rows)

    @domain_rpc
    def get_user(self, institution_id, code):
        with self.db() as uow:
            return handlers.get_user(uow, institution_id, code)

    @domain_rpc
    def get_users(self, institution_id, codes, fields=None):
        with self.db() as uow:
            return handlers.get_users(uow, institution_id, codes, fields)

    @domain_rpc
    def list_users(self, institution_id, filter="all", q=None, page=1, page_size=50):
        with self.db() as uow:
            return handlers.list_users(uow, institution_id, filter, q, page, page_size)

    @domain_rpc
    def find_codes(self, institution_id, q=None, registered=None, types=("student",)):
        with self.db() as uow:
            return handlers.find_codes(uow, institution_id, q, registered, types)

    @domain_rpc
    def archive_user(self, institution_id, code):
        with self.db() as uow:
            return handlers.archive_user(uow, institution_id, code)

    @domain_rpc
    def unarchive_user(self, institution_id, code):
        with self.db() as uow:
            return handlers.unarchive_user(uow, institution_id, code)

    # --- outbox -------------------------------------------------------------------

    @timer(interval=2)
    def relay_outbox(self):
        self.db.relay_outbox()
