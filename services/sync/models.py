"""Tables of the sync service (its own database: `SYNC_DATABASE_URL`).

snapshots       the desktop's last state of a project (the internal shape of
                rules.py as JSON text), updated by every download, with the
                status last computed for it
portal_reads    the portal's state of a project as last read (`as_of`), which
                status, differences and downloads compare against
mutations       the mutation feed: what changed in the portal, from the users
                and students events (one row per student and category)
student_differences  per student of a snapshot with a difference: which
                categories differ and which way (incremental.py), kept with
                the snapshot's status
stale_students  students of a snapshot an event named since the portal was
                last read: the timer refresh_stale reads the portal again
outbox, processed_events   the shared event tables (processed_events makes
                the event handlers idempotent by event_id)
"""
import sqlalchemy as sa

from services.common.outbox import outbox_table, processed_events_table
from services.common.tables import Timestamp, make_metadata

metadata = make_metadata()

snapshots = sa.Table(
    "snapshots", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("institution_id", sa.Integer, nullable=False),
    sa.Column("project_id", sa.Integer, nullable=False),
    sa.Column("student_count", sa.Integer, nullable=False),
    sa.Column("received_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    # the status of this snapshot against the portal read of `status_of` (its
    # as_of, ISO text): GET status answers it without loading either side
    sa.Column("status_of", sa.String(40), nullable=True),
    sa.Column("status", sa.Text, nullable=True),
    # last: SQLite reads a row's columns in order, through a large value's pages
    sa.Column("data", sa.Text, nullable=False),
    sa.UniqueConstraint("institution_id", "project_id"),
)

portal_reads = sa.Table(
    "portal_reads", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("institution_id", sa.Integer, nullable=False),
    sa.Column("project_id", sa.Integer, nullable=False),
    sa.Column("as_of", Timestamp, nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.UniqueConstraint("institution_id", "project_id"),
)

mutations = sa.Table(
    "mutations", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("event_type", sa.String(80), nullable=False),
    sa.Column("institution_id", sa.Integer, nullable=False),
    sa.Column("project_id", sa.Integer, nullable=True),
    sa.Column("category", sa.String(20), nullable=False),
    sa.Column("student_number", sa.String(50), nullable=True),
    sa.Column("department", sa.String(20), nullable=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("occurred_at", Timestamp, nullable=True),
    sa.Column("recorded_at", Timestamp, nullable=False),
    sa.Index(None, "institution_id", "recorded_at"),
)

student_differences = sa.Table(
    "student_differences", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("institution_id", sa.Integer, nullable=False),
    sa.Column("project_id", sa.Integer, nullable=False),
    sa.Column("student_number", sa.String(50), nullable=False),
    # {category: bits} (incremental.ANY, DOWN, UP, EXEMPT)
    sa.Column("flags", sa.Text, nullable=False),
    sa.UniqueConstraint("institution_id", "project_id", "student_number"),
)

stale_students = sa.Table(
    "stale_students", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("institution_id", sa.Integer, nullable=False),
    sa.Column("project_id", sa.Integer, nullable=False),
    sa.Column("student_number", sa.String(50), nullable=True),
    sa.Column("marked_at", Timestamp, nullable=False),
    # a replica reading the portal for this mark (refresh.py), until then
    sa.Column("claimed_until", Timestamp, nullable=True),
    sa.Index(None, "institution_id", "project_id"),
)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
