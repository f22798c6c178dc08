"""Tables of the uploads service (its own database: `UPLOADS_DATABASE_URL`).

submissions: student lists (the Intergrip flow) with their verdict, review
and load progress; the files themselves live in the file store (original,
report) and under <data dir>/uploads/lists/<id>/ (clean rows): storage.py.
imports: CSV imports from the administration (the Zermelo flow) with the
mapping, the commit's progress, result and undo data.
import_previews: the preview of an import that commit applies (its rows,
counts, plan and fingerprints), written once per preview. It is megabytes for
a large file, so it has a row of its own: the progress a background commit
saves after every chunk (and its heartbeat) rewrites only the small import
row, not the preview (SQLite rewrites a whole row on any update).
import_undo_parts: what undo needs of each chunk a background commit applied
so far, a row per chunk, so a progress save writes only its own chunk's part
(not all of it again); gathered into imports.undo when the commit ends.
public_attempts: the rate limit of the public submission route.
"""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from services.common.outbox import outbox_table, processed_events_table
from services.common.tables import Timestamp, Timestamps, declarative_base

Base = declarative_base()
metadata = Base.metadata


class Submission(Timestamps, Base):
    __tablename__ = "submissions"
    __table_args__ = (
        sa.Index("ix_submissions_institution_status", "institution_id", "status"),
        sa.Index("ix_submissions_status", "status"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    institution_id: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    school_type: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    student_type: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    source: Mapped[str] = mapped_column(sa.String(10), nullable=False)  # portal | public
    submitted_by: Mapped[str | None] = mapped_column(sa.String(50))     # user code (portal)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    email: Mapped[str] = mapped_column(sa.String(254), nullable=False)
    note: Mapped[str | None] = mapped_column(sa.Text)
    filename: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    size: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    sheet_name: Mapped[str | None] = mapped_column(sa.String(100))
    # validating | rejected | awaiting_review | declined | loading | loaded | load_failed
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    rows: Mapped[int | None] = mapped_column(sa.Integer)
    error_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    errors: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    # public submissions: existing students whose BSN differs (for reviewers only)
    conflicts: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    progress_done: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    progress_total: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    report_ready: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    project_id: Mapped[int | None] = mapped_column(sa.Integer)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    decided_by: Mapped[str | None] = mapped_column(sa.String(50))
    decided_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    loaded: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    skipped: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    load_errors: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    loaded_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    # the worker that validates or loads it (claim) and its last sign of life
    claim: Mapped[str | None] = mapped_column(sa.String(36))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    purged_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    # when the helpdesk was told the list awaits review (at most once per list)
    helpdesk_notified_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class Import(Base):
    __tablename__ = "imports"
    __table_args__ = (sa.Index("ix_imports_institution_id", "institution_id"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    institution_id: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(20), nullable=False)  # users | participations
    filename: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    size: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    delimiter: Mapped[str] = mapped_column(sa.String(5), nullable=False)
    encoding: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    columns: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    row_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    # uploaded | previewed | committing | committed | failed | undone
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    mapping: Mapped[dict | None] = mapped_column(sa.JSON)
    options: Mapped[dict | None] = mapped_column(sa.JSON)
    result: Mapped[dict | None] = mapped_column(sa.JSON)
    undo: Mapped[dict | None] = mapped_column(sa.JSON)
    created_by: Mapped[str | None] = mapped_column(sa.String(50))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, nullable=False)
    previewed_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    committed_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    undone_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    purged_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    # a commit in the background (POST /imports/{id}/commit?async=true): the
    # worker holding it and its last sign of life, the changes applied so far
    progress_done: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0,
                                               server_default="0")
    progress_total: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0,
                                                server_default="0")
    claim: Mapped[str | None] = mapped_column(sa.String(36))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    # why the last background commit stopped: {code, message, status}
    problem: Mapped[dict | None] = mapped_column(sa.JSON)


class ImportPreview(Base):
    """The stored preview of an import (none before PUT /imports/{id}/mapping;
    a new preview replaces it). The small parts come first: reading the counts
    (every GET of a committing import) does not reach the rows."""
    __tablename__ = "import_previews"

    # imports.id (no foreign key: on SQLite, Alembic's batch mode recreates the
    # imports table, whose implicit delete would cascade to the previews)
    import_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    # {create, update, unchanged, archive, error}: rows per action
    counts: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    # what commit applies: users {create, update, archive, students}, or
    # participations {participations}
    plan: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    # {code: updated_at or None} of every user the preview looked at
    fingerprints: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    # one entry per row of the file (and per student to archive)
    rows: Mapped[list] = mapped_column(sa.JSON, nullable=False)


class ImportUndoPart(Base):
    """What undo needs of one chunk of a background commit in progress: users
    {created, updated, archived} or participations {participations}, each the
    chunk's own entries. Written with the chunk's progress; when the commit
    ends (committed, failed, interrupted) the parts are gathered into
    imports.undo and removed."""
    __tablename__ = "import_undo_parts"

    import_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    part: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    data: Mapped[dict] = mapped_column(sa.JSON, nullable=False)


class PublicAttempt(Base):
    """One public submission attempt: the rate limit counts these per client
    address (and failed upload codes separately)."""
    __tablename__ = "public_attempts"
    __table_args__ = (sa.Index("ix_public_attempts_client_at", "client", "at"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    ok: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    at: Mapped[dt.datetime] = mapped_column(Timestamp, nullable=False)


submissions = Submission.__table__
imports = Import.__table__
import_previews = ImportPreview.__table__
import_undo_parts = ImportUndoPart.__table__
public_attempts = PublicAttempt.__table__
outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
