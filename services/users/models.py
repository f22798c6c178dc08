"""Tables of the users service: institutions, user accounts, login throttle.

Every table sits on one `metadata`, which also holds the shared `outbox` and
`processed_events` tables; migrations/ is generated from (and checked against)
this metadata.
"""
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from services.common.outbox import outbox_table, processed_events_table
from services.common.tables import Timestamp, Timestamps, declarative_base

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

Base = declarative_base(metadata)


class Institution(Base):
    __tablename__ = "institutions"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    # "platform" for the platform institution (helpdesk); NULL for schools.
    key: Mapped[str | None] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    # 4 characters, or 6 when the institution is one branch (vestiging).
    brin: Mapped[str | None] = mapped_column(sa.String(6), unique=True)
    branch: Mapped[str | None] = mapped_column(sa.String(2))
    school_type: Mapped[str | None] = mapped_column(sa.String(3))
    is_platform: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    upload_code: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, nullable=False)


class User(Timestamps, Base):
    __tablename__ = "users"
    __table_args__ = (
        sa.UniqueConstraint("institution_id", "code", name="uq_users_institution_id_code"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    institution_id: Mapped[int] = mapped_column(
        sa.ForeignKey("institutions.id"), nullable=False)
    code: Mapped[str] = mapped_column(sa.String(50), nullable=False)
    type: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    initials: Mapped[str | None] = mapped_column(sa.String(20))
    first_name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    prefix: Mapped[str | None] = mapped_column(sa.String(30))
    last_name: Mapped[str] = mapped_column(sa.String(150), nullable=False)
    gender: Mapped[str | None] = mapped_column(sa.String(1))
    street: Mapped[str | None] = mapped_column(sa.String(200))
    house_number: Mapped[str | None] = mapped_column(sa.String(20))
    postcode: Mapped[str | None] = mapped_column(sa.String(7))
    city: Mapped[str | None] = mapped_column(sa.String(100))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    roles: Mapped[list] = mapped_column(sa.JSON, nullable=False)
    # search.search_text of the names, e-mail and code: what `q` searches
    # (case- and accent-insensitive on every database). Kept by the use cases on
    # every insert and update of those fields.
    search_text: Mapped[str] = mapped_column(sa.Text, nullable=False)
    archived_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    # The operation that created the account (a load "submission:<id>", a request
    # "request:<key>"): a retry of that same operation adopts the account
    # instead of refusing it as user_exists (accounts._insert_users).
    origin_key: Mapped[str | None] = mapped_column(sa.String(80))


class LoginThrottle(Base):
    """Consecutive failed logins per account key (institution + code), whether
    or not the account exists."""
    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    failures: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    last_failure_at: Mapped[dt.datetime] = mapped_column(Timestamp, nullable=False)


institutions = Institution.__table__
users = User.__table__
login_throttle = LoginThrottle.__table__
outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
