"""Tables of the sync service (its own database: `SYNC_DATABASE_URL`)."""
import sqlalchemy as sa

from services.common.outbox import outbox_table, processed_events_table

# Named constraints keep Alembic's batch mode (SQLite) and PostgreSQL in step.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
