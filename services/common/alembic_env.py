"""Shared body of every service's migrations/env.py."""

from alembic import context

from .db import make_engine


def run(metadata):
    conf = context.config
    url = conf.get_main_option("sqlalchemy.url")
    assert url is not None, "sqlalchemy.url is set by services.common.migrate"
    if context.is_offline_mode():
        context.configure(
            url=url,
            target_metadata=metadata,
            literal_binds=True,
            render_as_batch=url.startswith("sqlite"),
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=url.startswith("sqlite"),
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()
