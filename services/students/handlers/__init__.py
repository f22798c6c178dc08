"""Use cases of the students service: student records, batches, the BSN audit
trail, a student leaving school, and the reactions to users' events.

Each function takes an entered UnitOfWork (services/common/db.py) and, where
it needs personal data or accounts, `users`: a client of the users service
(the nameko RpcProxy in the service; any object with the same methods in
tests). It does one command or query, commits with its events, and returns
plain JSON-able values. Placements (projects ... groups) are in placements/.

Creating a student is one operation across two services: everything is
validated here first (including the student number and BSN being free), then
the users service creates the account, then the record is inserted. When the
insert fails the account is removed again with users.discard_users (it has
never logged in and is minutes old), so either both exist or neither.

The database connection is handed back before every call to the users service,
so a slow RPC never holds one of the few connections (one, on SQLite).

BSN and onderwijsnummer never appear in logs or events; events name the
student by student number.
"""
# ruff: noqa: F401  (the names of the modules below, re-exported)
from .support import EVENT_CHUNK, ORIGIN, today
from .create_one import create_student, request_origin
from .create_many import count_by_origin, create_students
from .read import get_student, list_students
from .update import update_student
from .leave import cancel_leave, carry_out_planned_leaves, leave_student
from .user_events import on_user_archived, on_user_unarchived
from .bsn import bsn_audit_trail, bsn_by_student_numbers
