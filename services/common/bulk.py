"""Bulk inserts for the batch paths (students.create_students, users.create_users).

On PostgreSQL rows go in with COPY (an order of magnitude faster than a
multi-row INSERT, on the client and on the server); the ids they need are
drawn from the table's sequence first, in one query. On SQLite the driver's
executemany with the values SQLAlchemy would bind (_executemany_sqlite), the
ids following the first row's (_insert_sqlite).

psycopg2 refuses COPY while a wait callback is installed (psycogreen makes it
green under eventlet). The COPY therefore runs with the callback removed for
its duration: the call then blocks this process's hub for the few
milliseconds it takes, and nothing can switch green threads in between (no
I/O goes through the hub), so no other green thread can run without the
callback. A COPY that meets a row another open transaction inserted (the
same key created at once) would wait for that transaction, which may belong
to a green thread of this very process that can no longer run: the COPY has
a short lock timeout, in a savepoint, and on it the rows go in by a plain
(green) INSERT, which waits for the other transaction like any statement.
"""

import datetime as dt
import io
import json

import sqlalchemy as sa


def _escape(text):
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


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


_NULL = "\\N"


def _column_text(values):
    """One column's values in COPY text format. The common columns (text
    without tabs, line breaks or backslashes; integers) are converted in one
    pass each instead of a call per value."""
    kinds = {type(v) for v in values}
    kinds.discard(type(None))
    if kinds <= {str}:
        present = [v for v in values if v is not None]
        joined = "".join(present)
        if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
            return [_text_value(v) for v in values]
        if len(present) == len(values):
            return values
        return [_NULL if v is None else v for v in values]
    if kinds <= {int}:
        return [_NULL if v is None else str(v) for v in values]
    if len(kinds) == 1 and kinds <= {bool, dt.date, dt.datetime}:  # few distinct values
        texts = {v: _text_value(v) for v in set(values)}
        return [texts[v] for v in values]
    if kinds <= {list} and not any(values):  # empty lists (a new participation's package)
        return [_NULL if v is None else "[]" for v in values]
    if kinds == {list}:  # JSON lists of a few kinds (the accounts' roles): each made once
        return _list_texts(values)
    return [_text_value(v) for v in values]


def _list_texts(values):
    """_text_value of each list (or None) in `values`, computed once per
    distinct content (items compared with their types: [1] is not [True])."""
    texts: dict = {}
    out: list = []
    for value in values:
        if value is None:
            out.append(_NULL)
            continue
        try:
            key = tuple((item.__class__, item) for item in value)
            found = texts.get(key)
        except TypeError:  # an unhashable item (a nested list or dict)
            out.append(_text_value(value))
            continue
        if found is None:
            found = texts[key] = _text_value(value)
        out.append(found)
    return out


def copy_text(columns, rows):
    """`rows` (dicts) as the body of COPY FROM STDIN (text format) for `columns`."""
    if not rows:
        return ""
    texts = [_column_text([row[c] for row in rows]) for c in columns]
    return "\n".join(map("\t".join, zip(*texts, strict=True))) + "\n"


# How long a COPY (which holds the hub) waits for a row lock before the rows
# go in by a green INSERT instead.
COPY_LOCK_TIMEOUT = "200ms"


def _copy(session, table, columns, rows):
    """COPY `rows` in; False when it met a row lock (nothing written: the
    caller inserts them the green way)."""
    buf = io.StringIO(copy_text(columns, rows))
    quoted = ", ".join(f'"{c}"' for c in columns)
    import psycopg2
    from psycopg2 import errors, extensions

    statement = f'COPY "{table.name}" ({quoted}) FROM STDIN'
    savepoint = session.begin_nested()
    session.execute(sa.text(f"SET LOCAL lock_timeout = '{COPY_LOCK_TIMEOUT}'"))
    raw = session.connection().connection.dbapi_connection
    callback = extensions.get_wait_callback()
    extensions.set_wait_callback(None)
    try:
        with raw.cursor() as cursor:
            cursor.copy_expert(statement, buf)
    except errors.LockNotAvailable:
        extensions.set_wait_callback(callback)
        savepoint.rollback()  # also undoes the SET LOCAL
        return False
    except psycopg2.IntegrityError as exc:  # as SQLAlchemy raises it for an INSERT
        extensions.set_wait_callback(callback)
        savepoint.rollback()
        raise sa.exc.IntegrityError(statement, None, exc) from None
    finally:
        extensions.set_wait_callback(callback)
    session.execute(sa.text("SET LOCAL lock_timeout = DEFAULT"))
    savepoint.commit()
    return True


def _uses_psycopg2_postgres(session):
    bind = session.get_bind()
    return bind.dialect.name == "postgresql" and bind.dialect.driver == "psycopg2"


def _insert_sqlite(session, table, rows):
    """SQLite: RETURNING in a given order costs a statement per row, so only
    the first row goes in that way; it takes the database's write lock, which
    holds until the commit, and gets max(id) + 1 (an INTEGER PRIMARY KEY
    without AUTOINCREMENT), so the ids after it are free and the other rows
    take them in one executemany."""
    first = session.execute(sa.insert(table).returning(table.c.id), rows[0]).scalar_one()
    ids = list(range(first, first + len(rows)))
    if len(rows) > 1:
        _executemany_sqlite(
            session, table, [dict(row, id=i) for row, i in zip(rows[1:], ids[1:], strict=True)]
        )
    return ids


def _executemany_sqlite(session, table, rows):
    """SQLite: the rows through the driver's executemany, their values turned
    into what SQLAlchemy would bind (each column type's own bind processor,
    one column at a time), without its per-row work (a parameter dict built and
    processed per row: most of the insert's CPU). The same statement and the
    same values as session.execute(sa.insert(table), rows); that is what runs
    when the statement would bind anything the rows do not hold (a column's
    Python-side default)."""
    columns = list(rows[0])
    conn = session.connection()
    compiled = sa.insert(table).compile(dialect=conn.dialect, column_keys=columns)
    order = compiled.positiontup or []
    if sorted(order) != sorted(columns) or compiled.literal_execute_params:
        session.execute(sa.insert(table), rows)
        return
    values = []
    for key in order:
        column = [row[key] for row in rows]
        process = table.c[key].type._cached_bind_processor(conn.dialect)
        values.append(column if process is None else _processed(column, process))
    conn.exec_driver_sql(compiled.string, list(zip(*values, strict=True)))


_PLAIN = (str, int, bool, type(None), dt.date)


def _key(value):
    """A dict key under which values process alike, or None. Only classes
    whose equal values are the same value: not Decimal('1.0') and
    Decimal('1.00'), nor floats (0.0 and -0.0); a datetime keeps its tzinfo
    (the same instant in two zones is written as two texts)."""
    cls = value.__class__
    if cls in _PLAIN:
        return cls, value
    if cls is dt.datetime:
        return cls, value, value.tzinfo
    if cls is list and all(item.__class__ in _PLAIN for item in value):
        return list, tuple((item.__class__, item) for item in value)
    return None


def _processed(column, process):
    """process(value) of each value, worked out once per distinct value: the
    rows of a batch share most of theirs (one timestamp for created_at and
    updated_at, a few classes, [] for a list), and SQLite's DATETIME and
    JSON processors are most of an insert's own CPU otherwise."""
    done: dict = {}
    out = []
    for value in column:
        key = _key(value)
        if key is None:
            out.append(process(value))
            continue
        found = done.get(key, done)
        if found is done:
            found = done[key] = process(value)
        out.append(found)
    return out


def insert_many(session, table, rows, return_ids=False):
    """Insert `rows` (dicts with the same keys) into `table`; with
    `return_ids`, the new ids in the order of `rows`."""
    if not rows:
        return []
    if _uses_psycopg2_postgres(session):
        ids = []
        if return_ids:
            ids = list(
                session.execute(
                    sa.text(
                        "SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                        "FROM generate_series(1, :n)"
                    ),
                    {"table": table.name, "n": len(rows)},
                ).scalars()
            )
            rows = [dict(row, id=new_id) for row, new_id in zip(rows, ids, strict=True)]
        if not _copy(session, table, list(rows[0]), rows):
            session.execute(sa.insert(table), rows)
        return ids
    if session.get_bind().dialect.name == "sqlite":
        if return_ids:
            return _insert_sqlite(session, table, rows)
        _executemany_sqlite(session, table, rows)
        return []
    if return_ids:
        return list(
            session.execute(
                sa.insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
            ).scalars()
        )
    session.execute(sa.insert(table), rows)
    return []


def among(session, column, values):
    """`column IN values` for a long list of text values (the numbers or
    codes of a batch: thousands), without SQLAlchemy rendering a parameter per
    value: on PostgreSQL `column = ANY(array)`, one array parameter; on SQLite
    `column IN (SELECT value FROM json_each(text))`, one JSON parameter. The
    same rows as column.in_(values) (None is never among them either way)."""
    values = [v for v in values if v is not None]
    if not values or any(v.__class__ is not str for v in values):
        return column.in_(values)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == sa.any_(sa.bindparam(None, values, type_=ARRAY(sa.Text), unique=True))
    if dialect == "sqlite":
        listed = sa.bindparam(None, json.dumps(values), type_=sa.Text, unique=True)
        return column.in_(
            sa.select(sa.column("value")).select_from(sa.func.json_each(listed)).scalar_subquery()
        )
    return column.in_(values)
