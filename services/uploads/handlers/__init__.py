"""Use cases of the uploads service on its own database: student-list
submissions (create, read, list, approve, decline), the claims and progress
of the background work (jobs.py), retention, and the public route's rate
limit. CSV imports are in imports/.

Each function takes an entered UnitOfWork (services/common/db.py), commits
with its events where it changes something, and returns plain JSON-able
values.
"""
# ruff: noqa: F401  (the names of the modules below, re-exported)
from services.common.times import as_utc, iso

from .submissions import (DEFAULT_ERRORS_SHOWN, ROW_SECRETS, STATUSES, STATUS_NL, approve,
                          check_submission_fields, clean_filename, create_submission, decline,
                          get_submission, list_submissions, load_submission, row_view,
                          submission_dict, submission_rows, summary_dict, to_id, wrong_state)
from .progress import (claim, claim_helpdesk_notice, finish_load, finish_validation, heartbeat,
                       helpdesk_notice_due, load_progress, reject_unreadable, release,
                       set_report_ready, stale_work)
from .retention import purge_files, sweep_orphans
from .rate_limit import check_rate, client_key, record_attempt
