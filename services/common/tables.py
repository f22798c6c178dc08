"""What every service's models.py shares: constraint naming and the timestamp type.

Named constraints keep Alembic's batch mode (SQLite) and PostgreSQL in step.
(The users service predates this and keeps its own convention, which its
migrations name.)
"""

import sqlalchemy as sa

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
