"""Bulk inserts for the batch path (create_students).

On PostgreSQL rows go in with COPY (an order of magnitude faster than a
multi-row INSERT, on the client and on the server); the ids they need are
drawn from the table's sequence first, in one query. Elsewhere (SQLite) a
Core executemany, with RETURNING when ids are wanted.

psycopg2 refuses COPY while a wait callback is installed (psycogreen makes it
green under eventlet). The COPY therefore runs with the callback removed for
its duration: the call then blocks this process's hub for the few
milliseconds it takes, and nothing can switch green threads in between (no
I/O goes through the hub), so no other green thread can run without the
callback.
"""
import datetime as dt
import io
import json

import sqlalchemy as sa


def _escape(text):
    return (text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def _text_value(value):
    """A value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    kind = type(value)
    if kind is str:
        return _escape(value)
    if kind is bool:
        return "t" if value else "f"
    if kind is int or kind is float:
        return str(value)
    if kind is dt.datetime or kind is dt.date:
        return value.isoformat()
    if kind is list or kind is dict:
        return _escape(json.dumps(value))
    return _escape(str(value))


def _copy(session, table, columns, rows):
    text_value = _text_value
    buf = io.StringIO()
    buf.write("".join("\t".join([text_value(row[c]) for c in columns]) + "\n"
                      for row in rows))
    buf.seek(0)
    quoted = ", ".join(f'"{c}"' for c in columns)
    raw = session.connection().connection.dbapi_connection
    import psycopg2
    from psycopg2 import extensions
    callback = extensions.get_wait_callback()
    extensions.set_wait_callback(None)
    statement = f'COPY "{table.name}" ({quoted}) FROM STDIN'
    try:
        with raw.cursor() as cursor:
            cursor.copy_expert(statement, buf)
    except psycopg2.IntegrityError as exc:
        # as the executemany path raises it: callers map it to a 409
        raise sa.exc.IntegrityError(statement, None, exc) from None
    finally:
        extensions.set_wait_callback(callback)


def _uses_psycopg2_postgres(session):
    bind = session.get_bind()
    return bind.dialect.name == "postgresql" and bind.dialect.driver == "psycopg2"


def insert_many(session, table, rows, return_ids=False):
    """Insert `rows` (dicts with the same keys) into `table`; with
    `return_ids`, the new ids in the order of `rows`."""
    if not rows:
        return []
    if _uses_psycopg2_postgres(session):
        ids = []
        if return_ids:
            ids = list(session.execute(
                sa.text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                        "FROM generate_series(1, :n)"),
                {"table": table.name, "n": len(rows)}).scalars())
            rows = [dict(row, id=new_id) for row, new_id in zip(rows, ids)]
        _copy(session, table, list(rows[0]), rows)
        return ids
    if return_ids:
        return list(session.execute(
            sa.insert(table).returning(table.c.id, sort_by_parameter_order=True),
            rows).scalars())
    session.execute(sa.insert(table), rows)
    return []
