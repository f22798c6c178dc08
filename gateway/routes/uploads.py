"""Student lists (Leerlinglijst opsturen) and CSV imports. Roles and
tenancy are checked here; the checks of the files live in the uploads service.
Files travel by reference: the gateway streams them into the shared file store
(gateway/files.py) and the RPC carries the reference; the report comes back the
same way.

Over 400 lines: one declaration per route of the uploads service's API, nothing else."""

import base64

from werkzeug.wrappers import Response

from services.common.errors import not_found

from .. import files
from .. import schemas_uploads as s
from ..routing import route

MANAGERS = ("admin", "helpdesk")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UPLOAD_ERRORS = (400, 401, 403, 404, 413, 415, 422)
# A synchronous commit or undo of thousands of rows takes longer than the
# usual deadline: those routes name their own.
LONG = "import_deadline"


def xlsx_response(result, store=None):
    """An .xlsx the service answered: by reference (`file`), else inline (the
    template, a few kB)."""
    headers = {"Content-Disposition": f'attachment; filename="{result["filename"]}"'}
    if "file" in result:
        return files.stream(store, result["file"], XLSX, headers)
    return Response(base64.b64decode(result["content_b64"]), content_type=XLSX, headers=headers)


# -- student lists ------------------------------------------------------------
@route(
    "GET",
    "/uploads/template",
    roles=MANAGERS,
    query=s.TemplateQuery,
    summary="The .xlsx template of a school type and student type; the upload demands its "
    "column titles exactly",
    tag="uploads",
)
def upload_template(ctx):
    q = ctx.query
    return xlsx_response(ctx.call("uploads", "template", q["school_type"], q["student_type"]))


@route(
    "POST",
    "/uploads",
    roles=MANAGERS,
    form=s.UploadForm,
    files=("file",),
    response=s.UploadAccepted,
    status=202,
    summary="Send a student list (.xlsx); it is checked in the background",
    tag="uploads",
    errors=UPLOAD_ERRORS,
)
def submit_upload(ctx):
    form = dict(ctx.form)
    institution_id = ctx.institution_id(form.pop("institution_id", None))
    filename, ref = files.receive(ctx)
    return files.call_with_file(
        ctx, ref, "uploads", "submit", institution_id, form, filename, ref, actor=ctx.actor
    )


@route(
    "GET",
    "/uploads",
    roles=MANAGERS,
    query=s.UploadListQuery,
    response=s.UploadPage,
    summary="The review queue: helpdesk sees every institution, an admin their own",
    tag="uploads",
)
def list_uploads(ctx):
    q = ctx.query
    institution_id = q["institution_id"] if ctx.is_helpdesk else ctx.scope
    return ctx.call(
        "uploads",
        "list_submissions",
        institution_id,
        status=q["status"],
        page=q["page"],
        page_size=q["page_size"],
    )


@route(
    "GET",
    "/uploads/<int:upload_id>",
    roles=MANAGERS,
    query=s.UploadQuery,
    response=s.Upload,
    summary="A student list: status, progress, errors",
    tag="uploads",
)
def get_upload(ctx, upload_id):
    q = ctx.query
    return ctx.call(
        "uploads",
        "get_submission",
        upload_id,
        ctx.scope,
        errors_offset=q["errors_offset"],
        errors_limit=q["errors_limit"],
    )


@route(
    "GET",
    "/uploads/<int:upload_id>/rows",
    roles=MANAGERS,
    query=s.UploadRowsQuery,
    response=s.UploadRowPage,
    summary="The checked rows of a list, paged (BSN and "
    "onderwijsnummer masked); none for a rejected or purged list (available: false)",
    tag="uploads",
)
def upload_rows(ctx, upload_id):
    q = ctx.query
    return ctx.call(
        "uploads",
        "submission_rows",
        upload_id,
        ctx.scope,
        page=q["page"],
        page_size=q["page_size"],
    )


@route(
    "GET",
    "/uploads/<int:upload_id>/report.xlsx",
    roles=MANAGERS,
    summary="The submitted sheet with each faulty cell marked and explained",
    tag="uploads",
    errors=(401, 403, 404, 409, 410),
)
def upload_report(ctx, upload_id):
    return xlsx_response(ctx.call("uploads", "report", upload_id, ctx.scope), ctx.app.files)


@route(
    "POST",
    "/uploads/<int:upload_id>/approve",
    roles=("helpdesk",),
    body=s.ApproveRequest,
    response=s.Upload,
    summary="Approve a checked list: its students are loaded in the "
    "background (approving twice loads once)",
    tag="uploads",
    errors=(401, 403, 404, 409, 422),
)
def approve_upload(ctx, upload_id):
    return ctx.call(
        "uploads", "approve", upload_id, actor=ctx.actor, project_id=ctx.body.get("project_id")
    )


@route(
    "POST",
    "/uploads/<int:upload_id>/decline",
    roles=("helpdesk",),
    body=s.DeclineRequest,
    response=s.Upload,
    summary="Decline a checked list with a reason",
    tag="uploads",
    errors=(401, 403, 404, 409, 422),
)
def decline_upload(ctx, upload_id):
    return ctx.call("uploads", "decline", upload_id, actor=ctx.actor, reason=ctx.body["reason"])


@route(
    "GET",
    "/public/uploads/template",
    auth=False,
    query=s.TemplateQuery,
    summary="The .xlsx template for the public submission (no account): the same file "
    "as GET /uploads/template",
    tag="uploads",
    errors=(400, 422),
)
def public_upload_template(ctx):
    q = ctx.query
    return xlsx_response(ctx.call("uploads", "template", q["school_type"], q["student_type"]))


@route(
    "POST",
    "/public/uploads",
    auth=False,
    form=s.PublicUploadForm,
    files=("file",),
    response=s.UploadAccepted,
    status=202,
    summary="Send a student list with an institution's upload code (no account); "
    "rate-limited, reveals nothing about the institution",
    tag="uploads",
    errors=(400, 404, 413, 415, 422, 429),
)
def submit_public_upload(ctx):
    form = dict(ctx.form)
    code = form.pop("upload_code")
    filename, ref = files.receive(ctx)
    return files.call_with_file(
        ctx,
        ref,
        "uploads",
        "submit_public",
        code,
        form,
        filename,
        ref,
        client=ctx.request.remote_addr,
    )


@route(
    "GET",
    "/institutions/<int:institution_id>/upload-code",
    roles=MANAGERS,
    response=s.UploadCode,
    summary="The institution's upload code (helpdesk, own admin)",
    tag="uploads",
)
def get_upload_code(ctx, institution_id):
    if ctx.scope not in (None, institution_id):
        raise not_found("institution")
    return ctx.call("users", "get_upload_code", institution_id)


@route(
    "POST",
    "/institutions/<int:institution_id>/upload-code",
    roles=("helpdesk",),
    response=s.UploadCode,
    summary="Rotate the institution's upload code",
    tag="uploads",
)
def rotate_upload_code(ctx, institution_id):
    return ctx.call("users", "rotate_upload_code", institution_id)


# -- CSV imports --------------------------------------------------------------------
@route(
    "POST",
    "/imports",
    roles=("admin",),
    form=s.ImportForm,
    files=("file",),
    response=s.Import,
    status=201,
    summary="Upload a CSV from the administration: delimiter and encoding detected, a "
    "suggested field per column",
    tag="imports",
    errors=UPLOAD_ERRORS,
)
def create_import(ctx):
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


@route(
    "GET",
    "/imports",
    roles=MANAGERS,
    query=s.ImportListQuery,
    response=s.ImportPage,
    summary="The institution's CSV imports, newest first: who, when, kind, mode, counts, "
    "status (helpdesk names institution_id)",
    tag="imports",
)
def list_imports(ctx):
    q = ctx.query
    return ctx.call(
        "uploads",
        "list_imports",
        ctx.institution_id(),
        kind=q["kind"],
        status=q["status"],
        page=q["page"],
        page_size=q["page_size"],
    )


@route(
    "GET",
    "/imports/<int:import_id>",
    roles=("admin",),
    query=s.ImportGetQuery,
    response=s.Import,
    summary="An import: columns, mapping, preview, result, the progress "
    "of a commit in the background (?sample_rows=n: the file's first rows again)",
    tag="imports",
)
def get_import(ctx, import_id):
    return ctx.call(
        "uploads",
        "get_import",
        import_id,
        ctx.tenant,
        preview_rows=ctx.query["preview_rows"],
        sample_rows=ctx.query["sample_rows"],
    )


@route(
    "GET",
    "/imports/<int:import_id>/rows",
    roles=("admin",),
    query=s.ImportRowsQuery,
    response=s.ImportRowPage,
    summary="The preview's rows, paged (?action= narrows to one "
    "action); 409 preview_required before the mapping",
    tag="imports",
    errors=(401, 403, 404, 409, 422),
)
def import_rows(ctx, import_id):
    q = ctx.query
    return ctx.call(
        "uploads",
        "import_rows",
        import_id,
        ctx.tenant,
        page=q["page"],
        page_size=q["page_size"],
        action=q["action"],
    )


@route(
    "PUT",
    "/imports/<int:import_id>/mapping",
    roles=("admin",),
    body=s.ImportMapping,
    query=s.ImportQuery,
    response=s.ImportPreview,
    summary="Label the columns, choose the "
    "mode: the preview of what commit will do (?preview_rows=n: only the first n rows in "
    "the answer)",
    tag="imports",
    errors=(400, 401, 403, 404, 409, 422),
)
def map_import(ctx, import_id):
    return ctx.call(
        "uploads",
        "preview_import",
        import_id,
        ctx.tenant,
        ctx.body,
        preview_rows=ctx.query["preview_rows"],
    )


@route(
    "POST",
    "/imports/<int:import_id>/commit",
    deadline=LONG,
    roles=("admin",),
    query=s.ImportCommitQuery,
    response=s.ImportResult,
    summary="Apply exactly what the preview showed (409 when "
    "records changed since); a second commit changes nothing. ?async=true: 202 with the "
    "import (status committing, progress) and the commit runs in the background",
    tag="imports",
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
    if ctx.query["async_"]:
        # Answers at once; the commit runs in the background.
        started = ctx.call("uploads", "start_commit_import", import_id, ctx.tenant, actor=ctx.actor)
        return started, 202
    return ctx.call("uploads", "commit_import", import_id, ctx.tenant, actor=ctx.actor)


@route(
    "POST",
    "/imports/<int:import_id>/undo",
    deadline=LONG,
    roles=("admin",),
    response=s.ImportResult,
    summary="Restore what the commit changed, where nothing touched those records since",
    tag="imports",
    errors=(401, 403, 404, 409),
)
def undo_import(ctx, import_id):
    return ctx.call("uploads", "undo_import", import_id, ctx.tenant, actor=ctx.actor)
