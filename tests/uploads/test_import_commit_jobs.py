"""The background commit of a CSV import as a state machine on a real uploads
database (SQLite, and PostgreSQL with -m db): claimed by one worker, progress
per chunk, and a worker that dies halfway leaves an import that is never
applied twice but can be undone. The users and students services are small
in-memory stand-ins here; tests/uploads/test_imports_api.py runs the same
through the real services."""
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from services.common.db import UnitOfWork, make_engine
from services.common.errors import DomainError
from services.common.outbox import utcnow
from services.uploads import imports
from services.uploads.settings import UploadSettings


class Crash(Exception):
    pass


class Users:
    """The users service as far as an import needs it."""

    def __init__(self, crash_after=None):
        self.users = {}
        self.crash_after = crash_after
        self.calls = 0

    def get_users(self, iid, codes, fields=None):
        return [self.users[c] for c in codes if c in self.users]

    def create_users(self, iid, rows, batch_events=False, brief=False, deadline=None):
        assert batch_events  # an import announces its accounts in batches
        assert brief  # it needs only code and updated_at of each
        self.calls += 1
        if self.crash_after is not None and self.calls > self.crash_after:
            raise Crash("the worker died")
        created = []
        for row in rows:
            user = {"code": row["code"], "updated_at": f"t{len(self.users)}", "archived": False,
                    "type": "student"}
            self.users[row["code"]] = user
            created.append(user)
        return {"created": created}

    def discard_users(self, iid, codes, batch_events=False, deadline=None):
        for code in codes:
            self.users.pop(code)
        return {"discarded": codes, "kept": []}

    def update_users(self, iid, rows, deadline=None):
        return {"updated": []}


class Students:
    def register_students(self, iid, codes, deadline=None):
        return {"registered": list(codes), "existing": []}


@pytest.fixture
def engine(make_db):
    engine = make_engine(make_db("uploads"))
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine):
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    return lambda: UnitOfWork(factory, "uploads")


def previewed(db, tmp_path, users, n=30):
    settings = UploadSettings(data_dir=tmp_path / "var")
    text = "code;voornaam;achternaam\n" + "".join(f"{500 + i};Eva;Dekker{i}\n" for i in range(n))
    with db() as uow:
        imp = imports.create_import(uow, settings, 7, "users", "export.csv", text.encode(),
                                    actor_code="beheer")
    imports.preview(db, settings, users, Students(), imp["id"], 7, {
        "columns": {"0": "code", "1": "first_name", "2": "last_name"}, "mode": "import",
        "as_students": True})
    return imp["id"]


def get(db, import_id):
    with db() as uow:
        return imports.get_import(uow, import_id, 7, preview_rows=0)


def test_one_worker_progress_per_chunk_and_a_second_claim_finds_it_done(db, tmp_path):
    users = Users()
    import_id = previewed(db, tmp_path, users)
    started = imports.start_commit(db, import_id, 7)
    assert started["status"] == "committing" and started["progress"] == {"done": 0, "total": 30}
    # no new preview, no synchronous commit, no undo while it runs
    for call in (lambda: imports.preview(db, UploadSettings(data_dir=tmp_path / "var"), users,
                                         Students(), import_id, 7, {"columns": {"0": "code"}}),
                 lambda: imports.commit(db, None, users, Students(), import_id, 7),
                 lambda: imports.undo(db, users, Students(), import_id, 7)):
        with pytest.raises(DomainError) as exc:
            call()
        assert exc.value.code == "import_committing"
    with db() as uow:
        assert imports.stale_commits(uow, 60, now=utcnow()) == []  # just asked
    result = imports.run_commit(db, users, Students(), import_id, "worker-1", 60, chunk=8)
    assert result["counts"]["created"] == 30 and users.calls == 4  # 8 + 8 + 8 + 6
    done = get(db, import_id)
    assert done["status"] == "committed" and done["progress"] == {"done": 30, "total": 30}
    # a redelivered event: nothing to claim, nothing applied twice
    assert imports.run_commit(db, users, Students(), import_id, "worker-2", 0) is None
    assert users.calls == 4


def test_a_worker_that_died_halfway_leaves_a_failed_import_that_undo_takes_back(db, tmp_path):
    users = Users(crash_after=2)
    import_id = previewed(db, tmp_path, users)
    imports.start_commit(db, import_id, 7)
    with pytest.raises(Crash):
        imports.run_commit(db, users, Students(), import_id, "worker-1", 60, chunk=8)
    halfway = get(db, import_id)
    assert halfway["status"] == "committing" and halfway["progress"]["done"] == 16
    # the resume timer finds it once the worker has been quiet long enough
    with db() as uow:
        assert imports.stale_commits(uow, 60) == []
        assert imports.stale_commits(uow, 0) == [import_id]
    users.crash_after = None
    assert imports.run_commit(db, users, Students(), import_id, "worker-2", 0) is None
    failed = get(db, import_id)
    assert failed["status"] == "failed" and failed["problem"]["code"] == "commit_interrupted"
    assert "16" in failed["problem"]["message"] and len(users.users) == 16  # not re-applied
    undone = imports.undo(db, users, Students(), import_id, 7)
    assert undone["counts"]["removed"] == 16 and users.users == {}


def test_a_long_chunk_keeps_the_claim_alive(db, tmp_path):
    """One chunk longer than the stale time: the heartbeat keeps the claim, so
    the resume timer does not take the commit over (it would apply rows twice)."""
    import eventlet

    class SlowUsers(Users):
        def create_users(self, iid, rows, batch_events=False, brief=False, deadline=None):
            eventlet.sleep(1.2)
            return super().create_users(iid, rows, batch_events, brief, deadline)

    users = SlowUsers()
    import_id = previewed(db, tmp_path, users, n=10)
    imports.start_commit(db, import_id, 7)
    stale = []

    def watch():
        for _ in range(12):
            eventlet.sleep(0.1)
            with db() as uow:
                stale.extend(imports.stale_commits(uow, 0.5, quiet_seconds=0.5))
    watcher = eventlet.spawn(watch)
    result = imports.run_commit(db, users, Students(), import_id, "worker-1", 0.5, chunk=10)
    watcher.wait()
    assert result["counts"]["created"] == 10 and stale == []


def row_size(db, table, where):
    """Characters of the row as stored, all columns together."""
    size = sum(sa.func.coalesce(sa.func.length(sa.cast(c, sa.Text)), 0) for c in table.c)
    with db() as uow:
        return uow.session.execute(sa.select(size).where(where)).scalar_one()


def test_progress_saves_write_neither_the_preview_nor_the_undo_data_of_earlier_chunks(
        db, engine, tmp_path):
    """A progress save (after every chunk, and the heartbeat) writes the small
    import row and that chunk's undo part: not the stored preview (megabytes
    for a large file, which SQLite would rewrite with the row), which is read
    once, nor the undo data of the chunks before (written once at the end)."""
    from services.uploads.models import import_previews, import_undo_parts, imports as table

    class Watching(Users):
        """Measures the import row between the chunks: what a progress save
        and the heartbeat rewrite."""
        sizes: list = []

        def create_users(self, iid, rows, batch_events=False, brief=False, deadline=None):
            self.sizes.append(row_size(db, table, table.c.id == import_id))
            return super().create_users(iid, rows, batch_events, brief, deadline)

    users = Watching()
    import_id = previewed(db, tmp_path, users, n=400)
    preview_size = row_size(db, import_previews, import_previews.c.import_id == import_id)
    imports.start_commit(db, import_id, 7)
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append((" ".join(statement.split()), repr(parameters)))
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        result = imports.run_commit(db, users, Students(), import_id, "worker-1", 60, chunk=50)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert result["counts"]["created"] == 400 and users.calls == 6  # 50 50 50 75 112 63
    # the import row between the chunks holds no preview: a fraction of it
    assert preview_size > 40_000 and max(users.sizes) < 3_000
    # the stored preview: read once (the claim), never written
    assert [s.split()[0] for s, _p in statements if "import_previews" in s] == ["SELECT"]
    # the first user's undo entry is written with its chunk and in the final
    # undo data, not again with every progress save after it
    writes = [(s, p) for s, p in statements if s.split()[0] in ("INSERT", "UPDATE")]
    assert sum('"500"' in p for _s, p in writes) == 2
    assert sum(s.startswith("INSERT INTO import_undo_parts") for s, _p in writes) == 6
    with db() as uow:  # gathered into the import's undo data when it ended
        assert uow.session.execute(sa.select(sa.func.count()).select_from(import_undo_parts)
                                   ).scalar_one() == 0
    assert imports.undo(db, users, Students(), import_id, 7)["counts"]["removed"] == 400


def test_a_large_commit_records_its_progress_some_fifteen_times():
    from services.uploads.imports import committing
    sizes = [len(part) for part in committing._parts(list(range(50_000)), 500)]
    assert sum(sizes) == 50_000 and sizes[:3] == [500] * 3
    assert max(sizes) == committing.MAX_CHUNK and len(sizes) <= 18
    assert [len(p) for p in committing._parts(list(range(30)), 8)] == [8, 8, 8, 6]


def test_the_gc_pause_is_counted_and_restores_the_collector():
    import gc

    from services.uploads.imports.records import gc_paused
    assert gc.isenabled()
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer work still runs
    assert gc.isenabled()
