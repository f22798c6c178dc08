"""Migrations of the uploads service that move data (SQLite, and PostgreSQL
with -m db)."""
import alembic.command
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from services.common import migrate
from services.common.db import UnitOfWork, make_engine
from services.common.outbox import utcnow
from services.uploads import imports
from services.uploads.models import import_previews, import_undo_parts

# the imports table as 0004 left it (the preview a column of its own)
OLD_IMPORTS = sa.table(
    "imports", *(sa.column(name, sa.JSON()) for name in ("columns", "preview", "undo",
                                                          "options", "result")),
    *(sa.column(name) for name in ("id", "institution_id", "kind", "filename", "size", "sha256",
                                   "delimiter", "encoding", "row_count", "status",
                                   "created_at", "progress_done", "progress_total")))


def old_import(import_id, status, preview=None, undo=None):
    return {"id": import_id, "institution_id": 7, "kind": "users", "filename": "export.csv",
            "size": 10, "sha256": "0" * 64, "delimiter": ";", "encoding": "utf-8",
            "columns": [], "row_count": 2, "status": status, "created_at": utcnow(),
            "progress_done": 0, "progress_total": 0, "options": {"mode": "import"},
            "result": None, "preview": preview, "undo": undo}


PREVIEW = {
    "rows": [{"row": 2, "code": "501", "action": "create", "changes": {}, "errors": [],
              "note": None},
             {"row": 3, "code": "502", "action": "unchanged", "changes": {}, "errors": [],
              "note": "Bestaat al."}],
    "counts": {"create": 1, "update": 0, "unchanged": 1, "archive": 0, "error": 0},
    "plan": {"create": [{"code": "501", "first_name": "Eva", "last_name": "Dekker"}],
             "update": [], "archive": [], "students": []},
    "fingerprints": {"501": None, "502": "2026-11-01T10:00:00+00:00"}}


def test_migration_0005_moves_the_stored_previews_out_of_the_import_rows_and_back(make_db):
    url = make_db("uploads")
    config = migrate.alembic_config("uploads", url)
    alembic.command.downgrade(config, "0004")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            assert "import_previews" not in sa.inspect(conn).get_table_names()
            conn.execute(sa.insert(OLD_IMPORTS), [
                old_import(1, "previewed", PREVIEW), old_import(2, "uploaded"),
                old_import(3, "committed", PREVIEW, undo={"created": {"501": "t1"},
                                                          "updated": {}, "archived": {}})])
        engine.dispose()
        alembic.command.upgrade(config, "head")
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        with UnitOfWork(factory, "uploads") as uow:
            assert "preview" not in {c["name"] for c in
                                     sa.inspect(uow.session.connection()).get_columns("imports")}
            stored = {r.import_id: r for r in uow.session.execute(sa.select(import_previews))}
            assert set(stored) == {1, 3}
            assert stored[1].plan == PREVIEW["plan"] and stored[1].rows == PREVIEW["rows"]
            assert stored[1].fingerprints == PREVIEW["fingerprints"]
            # read as before: the import with its preview, its rows, the list
            assert imports.get_import(uow, 1, 7)["preview"] == {
                "rows": PREVIEW["rows"], "counts": PREVIEW["counts"]}
            assert imports.get_import(uow, 2, 7)["preview"] is None
            assert imports.import_rows(uow, 1, 7, action="unchanged")["items"] == \
                PREVIEW["rows"][1:]
            listed = {i["id"]: i for i in imports.list_imports(uow, 7)["items"]}
            assert listed[1]["counts"]["created"] == 1 and listed[1]["counts_from"] == "preview"
            assert listed[2]["counts"] is None
            # a background commit of import 1 halfway: its first chunk's undo part
            uow.session.execute(sa.insert(import_undo_parts).values(
                import_id=1, part=0, data={"created": {"501": "t2"}}))
            uow.session.commit()
        engine.dispose()
        alembic.command.downgrade(config, "0004")
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            back = {r.id: r for r in conn.execute(sa.select(OLD_IMPORTS))}
        assert not {"import_previews", "import_undo_parts"} & tables
        assert back[1].preview == PREVIEW and back[3].preview == PREVIEW
        assert back[2].preview is None
        # the parts gathered into the undo data, as the code before 0005 kept it
        assert back[1].undo == {"created": {"501": "t2"}, "updated": {}, "archived": {}}
        assert back[3].undo == {"created": {"501": "t1"}, "updated": {}, "archived": {}}
    finally:
        engine.dispose()
