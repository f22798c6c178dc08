"""COPY text of services/common/bulk.py: the column-wise conversion gives
exactly what the value-by-value one gives."""
import datetime as dt

from services.common import bulk

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def by_value(columns, rows):
    return "".join("\t".join(bulk._text_value(row[c]) for c in columns) + "\n" for row in rows)


def test_copy_text_agrees_with_the_value_by_value_conversion():
    rows = [
        {"text": "plain", "odd": "tab\there", "num": 1, "flag": True, "at": NOW,
         "day": dt.date(2010, 5, 17), "js": [], "obj": {"a": "x\ny"}, "mixed": 1,
         "blank": None, "fl": 1.5},
        {"text": None, "odd": "back\\slash\r\n", "num": None, "flag": False, "at": None,
         "day": dt.date(2010, 5, 17), "js": None, "obj": None, "mixed": "1",
         "blank": None, "fl": None},
        {"text": "ëé ünicode", "odd": None, "num": -7, "flag": None, "at": NOW,
         "day": None, "js": [], "obj": ["s"], "mixed": True, "blank": None, "fl": -0.0},
        {"text": "", "odd": "", "num": 0, "flag": True, "at": NOW + dt.timedelta(1),
         "day": dt.date(2011, 1, 1), "js": ["h4"], "obj": {}, "mixed": None,
         "blank": None, "fl": 0.0},
    ]
    columns = list(rows[0])
    assert bulk.copy_text(columns, rows) == by_value(columns, rows)
    assert bulk.copy_text(columns, []) == ""


def test_copy_text_escapes_what_copy_would_read_as_separators():
    text = bulk.copy_text(["a", "b"], [{"a": "x\ty", "b": None}])
    assert text == "x\\ty\t\\N\n"


def test_a_copy_that_meets_a_row_lock_of_this_process_waits_the_green_way(make_db):
    """A COPY holds the hub. When another green thread of this process has
    inserted the same key and not committed yet, waiting on its row lock in
    the COPY would stop the process for good; the rows go in by a green
    INSERT instead, which waits for that transaction and then sees its row."""
    import eventlet
    import pytest
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from services.common.db import make_engine
    from services.users.models import institutions, users

    url = make_db("users")
    engine = make_engine(url)
    if engine.dialect.name != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    with Session(engine) as s:
        inst = s.execute(sa.insert(institutions).returning(institutions.c.id), {
            "name": "School", "brin": "00AA", "school_type": "vo", "is_platform": False,
            "created_at": NOW, "upload_code": "code-1"}).scalar_one()
        s.commit()

    def row(code):
        return {"institution_id": inst, "code": code, "type": "student", "first_name": "A",
                "last_name": "B", "roles": [], "search_text": code, "created_at": NOW,
                "updated_at": NOW}

    holding = eventlet.event.Event()

    def first():
        with Session(engine) as s:
            s.execute(sa.insert(users), [row("1001")])
            holding.send()
            eventlet.sleep(0.5)  # the other green thread's COPY runs meanwhile
            s.commit()

    holder = eventlet.spawn(first)
    holding.wait()
    with Session(engine) as s:
        # a hub held for good would hang the test: the server ends it instead
        s.execute(sa.text("SET statement_timeout = '5s'"))
        with pytest.raises(sa.exc.IntegrityError) as info:
            bulk.insert_many(s, users, [row("1002"), row("1001")])
        assert "uq_users_institution_id_code" in str(info.value)
    holder.wait()
    with Session(engine) as s:
        codes = s.execute(sa.select(users.c.code).where(users.c.institution_id == inst))
        assert sorted(codes.scalars()) == ["1001"]
    engine.dispose()


def test_sqlite_batch_insert_stores_what_sqlalchemys_insert_stores():
    """bulk._executemany_sqlite processes each distinct value once
    (bulk._processed): the stored texts are those of session.execute(insert)
    value by value, also where equal values must not share a text (the same
    instant in two zones, 1 and True, a list of them)."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    amsterdam = dt.timezone(dt.timedelta(hours=1))
    engine = sa.create_engine("sqlite://")
    meta = sa.MetaData()

    def table(name):
        return sa.Table(name, meta, sa.Column("id", sa.Integer, primary_key=True),
                        sa.Column("at", sa.DateTime(timezone=True)),
                        sa.Column("day", sa.Date), sa.Column("n", sa.Integer),
                        sa.Column("flag", sa.Boolean), sa.Column("tags", sa.JSON),
                        sa.Column("data", sa.JSON), sa.Column("name", sa.Text))

    ours, theirs = table("ours"), table("theirs")
    meta.create_all(engine)
    values = [
        (NOW, dt.date(2010, 1, 1), 1, True, [], {"a": [1]}, "x"),
        (NOW, dt.date(2010, 1, 1), 1, True, [], {"a": [1]}, "x"),
        (NOW.astimezone(amsterdam), dt.date(2010, 1, 2), True, False, [1], {"a": [True]}, "y"),
        (NOW.replace(tzinfo=None), None, None, None, [True], None, None),
        (None, dt.date(2010, 1, 1), 0, False, ["bsn", "onderwijsnummer"], [], "x"),
        (NOW, dt.date(2010, 1, 1), 1, True, [1.0], {"a": [1]}, "x"),
    ]
    rows = [dict(zip(("at", "day", "n", "flag", "tags", "data", "name"), v, strict=True))
            for v in values]
    with Session(engine) as session:
        bulk._executemany_sqlite(session, ours, rows)
        session.execute(sa.insert(theirs), rows)
        session.commit()
        stored = {name: session.connection().exec_driver_sql(
            f"SELECT at, day, n, flag, tags, data, name FROM {name} ORDER BY id").all()
            for name in ("ours", "theirs")}
    assert stored["ours"] == stored["theirs"]
    # the instant in Amsterdam is a text of its own; naive NOW reads as UTC NOW
    assert len(set(row[0] for row in stored["ours"])) == 3
    engine.dispose()
