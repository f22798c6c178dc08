"""Student lists (Leerlinglijst opsturen) and upload codes. Roles and
tenancy are checked here; the checks of the files live in the uploads service.
Files travel by reference: the gateway streams them into the shared file store
(gateway/files.py) and the RPC carries the reference; the report comes back the
same way."""

import base64

from werkzeug.wrappers import Response

from services.common.errors import not_found

from .. import files
from .. import schemas_uploads as s
from ..routing import ANYONE, Routes

MANAGERS = ("admin", "helpdesk")

api = Routes("uploads", roles=MANAGERS)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_response(result, store=None):
    """An .xlsx the service answered: by reference (`file`), else inline (the
    template, a few kB)."""
    headers = {"Content-Disposition": f'attachment; filename="{result["filename"]}"'}
    if "file" in result:
        return files.stream(store, result["file"], XLSX, headers)
    return Response(base64.b64decode(result["content_b64"]), content_type=XLSX, headers=headers)


# -- student lists ------------------------------------------------------------
@api.get("/uploads/template", query=s.TemplateQuery)
def upload_template(ctx):
    """The .xlsx template of a school type and student type; the upload demands its column
    titles exactly"""
    q = ctx.query
    return xlsx_response(ctx.call("uploads", "template", q["school_type"], q["student_type"]))


@api.upload("/uploads", form=s.UploadForm, response=s.UploadAccepted, status=202)
def submit_upload(ctx):
    """Send a student list (.xlsx); it is checked in the background"""
    form = dict(ctx.form)
    institution_id = ctx.institution_id(form.pop("institution_id", None))
    filename, ref = files.receive(ctx)
    return files.call_with_file(
        ctx, ref, "uploads", "submit", institution_id, form, filename, ref, actor=ctx.actor
    )


@api.get("/uploads", query=s.UploadListQuery, response=s.UploadPage)
def list_uploads(ctx):
    """The review queue: helpdesk sees every institution, an admin their own"""
    q = ctx.query
    institution_id = q["institution_id"] if ctx.is_helpdesk else ctx.scope
    return ctx.call("uploads", "list_submissions", institution_id, **ctx.options)


@api.get("/uploads/<int:upload_id>", query=s.UploadQuery, response=s.Upload)
def get_upload(ctx, upload_id):
    """A student list: status, progress, errors"""
    return ctx.call("uploads", "get_submission", upload_id, ctx.scope, **ctx.options)


@api.get("/uploads/<int:upload_id>/rows", query=s.UploadRowsQuery, response=s.UploadRowPage)
def upload_rows(ctx, upload_id):
    """The checked rows of a list, paged (BSN and onderwijsnummer masked); none for a rejected
    or purged list (available: false)"""
    return ctx.call("uploads", "submission_rows", upload_id, ctx.scope, **ctx.options)


@api.get("/uploads/<int:upload_id>/report.xlsx", errors=(401, 403, 404, 409, 410))
def upload_report(ctx, upload_id):
    """The submitted sheet with each faulty cell marked and explained"""
    return xlsx_response(ctx.call("uploads", "report", upload_id, ctx.scope), ctx.app.files)


@api.post(
    "/uploads/<int:upload_id>/approve",
    roles=("helpdesk",),
    body=s.ApproveRequest,
    response=s.Upload,
    errors=(401, 403, 404, 409, 422),
)
def approve_upload(ctx, upload_id):
    """Approve a checked list: its students are loaded in the background (approving twice loads
    once)"""
    return ctx.call(
        "uploads", "approve", upload_id, actor=ctx.actor, project_id=ctx.body.get("project_id")
    )


@api.post(
    "/uploads/<int:upload_id>/decline",
    roles=("helpdesk",),
    body=s.DeclineRequest,
    response=s.Upload,
    errors=(401, 403, 404, 409, 422),
)
def decline_upload(ctx, upload_id):
    """Decline a checked list with a reason"""
    return ctx.call("uploads", "decline", upload_id, actor=ctx.actor, reason=ctx.body["reason"])


@api.get(
    "/public/uploads/template", auth=False, query=s.TemplateQuery, errors=(400, 422), roles=ANYONE
)
def public_upload_template(ctx):
    """The .xlsx template for the public submission (no account): the same file as GET
    /uploads/template"""
    q = ctx.query
    return xlsx_response(ctx.call("uploads", "template", q["school_type"], q["student_type"]))


@api.upload(
    "/public/uploads",
    auth=False,
    form=s.PublicUploadForm,
    response=s.UploadAccepted,
    status=202,
    errors=(400, 404, 413, 415, 422, 429),
    roles=ANYONE,
)
def submit_public_upload(ctx):
    """Send a student list with an institution's upload code (no account); rate-limited, reveals
    nothing about the institution"""
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


@api.get("/institutions/<int:institution_id>/upload-code", response=s.UploadCode)
def get_upload_code(ctx, institution_id):
    """The institution's upload code (helpdesk, own admin)"""
    if ctx.scope not in (None, institution_id):
        raise not_found("institution")
    return ctx.call("users", "get_upload_code", institution_id)


@api.post(
    "/institutions/<int:institution_id>/upload-code", roles=("helpdesk",), response=s.UploadCode
)
def rotate_upload_code(ctx, institution_id):
    """Rotate the institution's upload code"""
    return ctx.call("users", "rotate_upload_code", institution_id)
