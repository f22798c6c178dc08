"""CSV imports from the student administration (the Zermelo flow).

POST /imports stores the file and answers its columns with a suggested field
each; PUT /imports/{id}/mapping labels the columns, picks the mode and
answers the preview, which is stored; POST /imports/{id}/commit applies
exactly that preview (409 when a record it looked at has changed since: the
`updated_at` of every user it read is kept as a fingerprint); a second commit
changes nothing; POST /imports/{id}/undo restores what the commit changed
where nothing has touched those records since.

Users go through the users service's batch RPCs (create_users, update_users,
archive_user, discard_users); participations through the students service.
"""
# ruff: noqa: F401  (the names of the modules below, re-exported)
from .records import (ARCHIVE_GUARD, KINDS, LABELS, MODES, ORIGINAL, PROGRESS_CHUNK, ROW_ACTIONS,
                      RPC_CHUNK, SAMPLE_ROWS, STATUSES, USER_TYPES_NL, create_import, get_import,
                      history_counts, import_dict, import_rows, list_imports)
from .mapping import check_mapping
from .previewing import preview
from .committing import (claim_commit, commit, planned_changes, run_commit, stale_commits,
                         start_commit)
from .undoing import undo
