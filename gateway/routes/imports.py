"""CSV imports from the student administration (labelling, preview, commit,
undo). The checks and the changes live in the uploads service."""

from .. import files
from .. import schemas_uploads as s
from ..routing import WRITE, Routes
from .uploads import MANAGERS

api = Routes("imports", roles=("admin",))
# A synchronous commit or undo of thousands of rows takes longer than the
# usual deadline: those routes name their own.
LONG = "import_deadline"


@api.upload("/imports", form=s.ImportForm, response=s.Import, status=201)
def create_import(ctx):
    """Upload a CSV from the administration: delimiter and encoding detected, a suggested field
    per column"""
    f = ctx.form
    filename, ref = files.receive(ctx)
    return files.call_with_file(
        ctx,
        ref,
        "uploads",
        "create_import",
        ctx.tenant,
        f["kind"],
        filename,
        ref,
        delimiter=f["delimiter"],
        encoding=f["encoding"],
        actor=ctx.actor,
    )


@api.get("/imports", roles=MANAGERS, query=s.ImportListQuery, response=s.ImportPage)
def list_imports(ctx):
    """The institution's CSV imports, newest first: who, when, kind, mode, counts, status
    (helpdesk names institution_id)"""
    return ctx.call("uploads", "list_imports", ctx.institution_id(), **ctx.options)


@api.get("/imports/<int:import_id>", query=s.ImportGetQuery, response=s.Import)
def get_import(ctx, import_id):
    """An import: columns, mapping, preview, result, the progress of a commit in the background
    (?sample_rows=n: the file's first rows again)"""
    return ctx.call("uploads", "get_import", import_id, ctx.tenant, **ctx.options)


@api.get(
    "/imports/<int:import_id>/rows",
    query=s.ImportRowsQuery,
    response=s.ImportRowPage,
    errors=(401, 403, 404, 409, 422),
)
def import_rows(ctx, import_id):
    """The preview's rows, paged (?action= narrows to one action); 409 preview_required before
    the mapping"""
    return ctx.call("uploads", "import_rows", import_id, ctx.tenant, **ctx.options)


@api.put(
    "/imports/<int:import_id>/mapping",
    body=s.ImportMapping,
    query=s.ImportQuery,
    response=s.ImportPreview,
    errors=WRITE,
)
def map_import(ctx, import_id):
    """Label the columns, choose the mode: the preview of what commit will do (?preview_rows=n:
    only the first n rows in the answer)"""
    return ctx.call("uploads", "preview_import", import_id, ctx.tenant, ctx.body, **ctx.options)


@api.post(
    "/imports/<int:import_id>/commit",
    deadline=LONG,
    query=s.ImportCommitQuery,
    response=s.ImportResult,
    errors=(401, 403, 404, 409, 422),
    extra={
        "responses": {
            "202": {
                "description": "?async=true: the commit runs in the background; poll GET "
                "/imports/{id} (progress {done, total}, status)",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Import"}}
                },
            }
        }
    },
)
def commit_import(ctx, import_id):
    """Apply exactly what the preview showed (409 when records changed since); a second commit
    changes nothing. ?async=true: 202 with the import (status committing, progress) and the
    commit runs in the background"""
    if ctx.query["async_"]:
        # Answers at once; the commit runs in the background.
        started = ctx.call("uploads", "start_commit_import", import_id, ctx.tenant, actor=ctx.actor)
        return started, 202
    return ctx.call("uploads", "commit_import", import_id, ctx.tenant, actor=ctx.actor)


@api.post(
    "/imports/<int:import_id>/undo",
    deadline=LONG,
    response=s.ImportResult,
    errors=(401, 403, 404, 409),
)
def undo_import(ctx, import_id):
    """Restore what the commit changed, where nothing touched those records since"""
    return ctx.call("uploads", "undo_import", import_id, ctx.tenant, actor=ctx.actor)
