"""Tables of the oso service (its own database: `OSO_DATABASE_URL`).

delivery_points  the institution's registered aanleverpunt and its key
worklist         students (by BSN or onderwijsnummer) whose dossier is wanted
dossiers         the applied dossier per worklist entry: original XML, parsed
                 hard data, the school's soft data, validation messages, report state
attachments      the documents of a dossier, unpacked
batches / batch_items   executions of actions, run in the background
audit            who read or changed BSN-bearing records, and when
"""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from services.common.outbox import outbox_table, processed_events_table
from services.common.tables import Timestamp, Timestamps, declarative_base

Base = declarative_base()
metadata = Base.metadata


class DeliveryPoint(Base):
    __tablename__ = "delivery_points"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    institution_id: Mapped[int] = mapped_column(sa.Integer, nullable=False, unique=True)
    number: Mapped[str] = mapped_column(sa.String(4), nullable=False)
    key: Mapped[str] = mapped_column(sa.String(220), nullable=False)
    brin: Mapped[str] = mapped_column(sa.String(6), nullable=False)
    registered_at: Mapped[dt.datetime] = mapped_column(Timestamp, nullable=False)
    registered_by: Mapped[str | None] = mapped_column(sa.String(50))


class WorklistEntry(Base):
    __tablename__ = "worklist"
    __table_args__ = (sa.UniqueConstraint("institution_id", "number"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    institution_id: Mapped[int] = mapped_column(sa.Integer, nullable=False, index=True)
    number: Mapped[str] = mapped_column(sa.String(9), nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(16), nullable=False)   # bsn | onderwijsnummer
    # not_fetched | queued | fetching | fetched | failed
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    status_code: Mapped[str | None] = mapped_column(sa.String(60))
    status_message: Mapped[str | None] = mapped_column(sa.Text)
    last_action: Mapped[str | None] = mapped_column(sa.String(16))
    last_action_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    fetched_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    dossier_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, nullable=False)


class Dossier(Timestamps, Base):
    __tablename__ = "dossiers"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    institution_id: Mapped[int] = mapped_column(sa.Integer, nullable=False, index=True)
    worklist_id: Mapped[int] = mapped_column(
        sa.ForeignKey("worklist.id", ondelete="CASCADE"), nullable=False, unique=True)
    origin: Mapped[str | None] = mapped_column(sa.String(500))
    xml: Mapped[bytes] = mapped_column(sa.LargeBinary, nullable=False)
    xml_sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    validation: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    meldingen: Mapped[list] = mapped_column(sa.JSON, nullable=False)
    hard: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    soft: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    outcome: Mapped[dict | None] = mapped_column(sa.JSON)
    definitive: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    finalized_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    finalized_by: Mapped[str | None] = mapped_column(sa.String(50))
    dossier_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    applied_at: Mapped[dt.datetime] = mapped_column(Timestamp, nullable=False)
    last_action: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    student_number: Mapped[str | None] = mapped_column(sa.String(20))
    enrolled_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class Attachment(Base):
    __tablename__ = "attachments"
    __table_args__ = (sa.UniqueConstraint("dossier_id", "ref"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    dossier_id: Mapped[int] = mapped_column(
        sa.ForeignKey("dossiers.id", ondelete="CASCADE"), nullable=False, index=True)
    ref: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    section: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    filename: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(sa.Text)
    content_type: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    size: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    content: Mapped[bytes] = mapped_column(sa.LargeBinary, nullable=False)


class Batch(Base):
    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    institution_id: Mapped[int] = mapped_column(sa.Integer, nullable=False, index=True)
    # queued | running | done
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, index=True)
    total: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    done: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    actor: Mapped[str | None] = mapped_column(sa.String(50))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, nullable=False)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    finished_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class BatchItem(Base):
    __tablename__ = "batch_items"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(
        sa.ForeignKey("batches.id", ondelete="CASCADE"), nullable=False, index=True)
    worklist_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("worklist.id", ondelete="SET NULL"), index=True)
    number: Mapped[str] = mapped_column(sa.String(9), nullable=False)
    action: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    # queued | running | applied | failed | skipped
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    code: Mapped[str | None] = mapped_column(sa.String(60))
    message: Mapped[str | None] = mapped_column(sa.Text)
    finished_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class Audit(Base):
    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    institution_id: Mapped[int] = mapped_column(sa.Integer, nullable=False, index=True)
    worklist_id: Mapped[int | None] = mapped_column(sa.Integer)
    at: Mapped[dt.datetime] = mapped_column(Timestamp, nullable=False)
    actor: Mapped[str | None] = mapped_column(sa.String(50))
    action: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    detail: Mapped[str | None] = mapped_column(sa.String(200))


delivery_points = DeliveryPoint.__table__
worklist = WorklistEntry.__table__
dossiers = Dossier.__table__
attachments = Attachment.__table__
batches = Batch.__table__
batch_items = BatchItem.__table__
audit = Audit.__table__
outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
