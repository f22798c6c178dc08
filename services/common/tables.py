"""What every service's models.py shares: constraint naming and the timestamp type.

Named constraints keep Alembic's batch mode (SQLite) and PostgreSQL in step.
(The users service predates this and keeps its own convention, which its
migrations name.)
"""

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Timestamp = sa.DateTime(timezone=True)


def make_metadata():
    return sa.MetaData(naming_convention=NAMING_CONVENTION)


def declarative_base(metadata: sa.MetaData | None = None) -> type[DeclarativeBase]:
    """A declarative base of one service's own: its tables on `metadata` (by
    default new, with the shared naming convention)."""
    own = metadata if metadata is not None else make_metadata()

    class Base(DeclarativeBase):
        metadata = own

    return Base


class Timestamps:
    """Mixin: when a row was made and last changed."""

    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp, nullable=False)
