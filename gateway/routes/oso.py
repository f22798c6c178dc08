"""OSO transfer dossiers (API.md "OSO", docs/oso.md). Admin only, own
institution; the rules live in the oso service. Paths carry the BSN (or
onderwijsnummer): the access log masks long numbers."""

from urllib.parse import quote

from werkzeug.wrappers import Response

from services.common.errors import DomainError

from .. import files
from .. import schemas_oso as s
from ..routing import route

ADMIN = ("admin",)
TAG = "oso"


def download(ctx, result):
    """A file of a dossier, streamed from the file store (the service handed it
    out by reference)."""
    name = result.get("filename") or "bestand"
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    return files.stream(
        ctx.app.files,
        result["file"],
        result.get("content_type") or "application/octet-stream",
        {
            "Content-Disposition": disposition,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


# -- configuration and delivery point ----------------------------------------------
@route(
    "GET",
    "/oso/configuration",
    roles=ADMIN,
    response=s.OsoConfiguration,
    tag=TAG,
    summary="Which dossier source is configured and whether official validation is on",
)
def configuration(ctx):
    return ctx.call("oso", "configuration")


@route(
    "GET",
    "/oso/delivery-points",
    roles=ADMIN,
    response=s.OsoDeliveryPointPage,
    tag=TAG,
    summary="The registered delivery point (aanleverpunt); the key is masked",
)
def list_delivery_points(ctx):
    return ctx.call("oso", "list_delivery_points", ctx.tenant)


@route(
    "POST",
    "/oso/delivery-points",
    roles=ADMIN,
    body=s.OsoDeliveryPointCreate,
    response=s.OsoDeliveryPoint,
    status=201,
    tag=TAG,
    errors=(400, 401, 403, 422),
    summary="Register (or replace) the delivery point with the key as Mijn OSO shows it; "
    "a BRIN given (field brin, or in front of the key) must be the institution's",
)
def register_delivery_point(ctx):
    return ctx.call("oso", "register_delivery_point", ctx.tenant, ctx.body, ctx.actor)


# -- worklist -----------------------------------------------------------------------
@route(
    "GET",
    "/oso/students",
    roles=ADMIN,
    query=s.OsoWorklistQuery,
    response=s.OsoWorklistPage,
    tag=TAG,
    summary="The OSO worklist: status, last action and dossier date per student",
)
def list_worklist(ctx):
    q = ctx.query
    return ctx.call(
        "oso",
        "list_worklist",
        ctx.tenant,
        page=q["page"],
        page_size=q["page_size"],
        status=q.get("status"),
    )


@route(
    "POST",
    "/oso/students",
    roles=ADMIN,
    body=s.OsoWorklistAdd,
    response=s.OsoWorklistEntry,
    status=201,
    tag=TAG,
    errors=(400, 401, 403, 409, 422),
    summary="Add a student to the worklist by BSN (or onderwijsnummer)",
)
def add_to_worklist(ctx):
    body = {
        k: (str(v) if isinstance(v, int) and not isinstance(v, bool) else v)
        for k, v in ctx.body.items()
    }
    return ctx.call("oso", "add_to_worklist", ctx.tenant, body, ctx.actor)


@route(
    "POST",
    "/oso/students/import",
    roles=ADMIN,
    files=("file",),
    response=s.OsoWorklistImportResult,
    tag=TAG,
    errors=(400, 401, 403, 413, 415, 422),
    summary="Add students from an .xlsx with one column titled BSN; invalid numbers and "
    "duplicates are reported by row, the valid ones added",
)
def import_worklist(ctx):
    filename, ref = files.receive(ctx)
    return files.call_with_file(
        ctx, ref, "oso", "import_worklist", ctx.tenant, filename, ref, ctx.actor
    )


@route(
    "DELETE",
    "/oso/students/<bsn>",
    roles=ADMIN,
    status=204,
    tag=TAG,
    errors=(401, 403, 404, 409),
    summary="Remove a student from the worklist (and their stored dossier)",
)
def remove_from_worklist(ctx, bsn):
    ctx.call("oso", "remove_from_worklist", ctx.tenant, bsn, ctx.actor)
    return Response(status=204)


# -- actions ------------------------------------------------------------------------
@route(
    "POST",
    "/oso/actions",
    roles=ADMIN,
    body=s.OsoActionsRequest,
    response=s.OsoBatch,
    status=202,
    tag=TAG,
    errors=(400, 401, 403, 409, 422, 503),
    summary="Execute import / supplement / overwrite / none per student (or for all) in "
    "the background; poll GET /oso/actions/{id}",
)
def start_actions(ctx):
    body = dict(ctx.body)
    body["items"] = [{"bsn": str(i["bsn"]), "action": i.get("action")} for i in body["items"]]
    batch = ctx.call("oso", "start_actions", ctx.tenant, body, ctx.actor)
    return batch, 202


@route(
    "GET",
    "/oso/actions/<int:batch_id>",
    roles=ADMIN,
    response=s.OsoBatch,
    tag=TAG,
    summary="Progress and status per student of an execution",
)
def get_batch(ctx, batch_id):
    return ctx.call("oso", "get_batch", ctx.tenant, batch_id)


# -- dossiers -----------------------------------------------------------------------
@route(
    "GET",
    "/oso/dossiers/<bsn>",
    roles=ADMIN,
    response=s.OsoDossier,
    tag=TAG,
    summary="The stored dossier (parsed), its source file, validation messages, last "
    "action and date",
)
def get_dossier(ctx, bsn):
    return ctx.call("oso", "get_dossier", ctx.tenant, bsn, ctx.actor)


@route(
    "GET",
    "/oso/dossiers/<bsn>/source.xml",
    roles=ADMIN,
    tag=TAG,
    summary="The original XML of the stored dossier",
)
def get_source_file(ctx, bsn):
    return download(ctx, ctx.call("oso", "get_source_file", ctx.tenant, bsn, ctx.actor))


@route(
    "GET",
    "/oso/dossiers/<bsn>/attachments/<ref>",
    roles=ADMIN,
    tag=TAG,
    summary="Download one attachment of the dossier (id from data.attachments)",
)
def get_attachment(ctx, bsn, ref):
    return download(ctx, ctx.call("oso", "get_attachment", ctx.tenant, bsn, ref, ctx.actor))


@route(
    "PATCH",
    "/oso/dossiers/<bsn>/report",
    roles=ADMIN,
    body=s.OsoReportUpdate,
    response=s.OsoReport,
    tag=TAG,
    errors=(400, 401, 403, 404, 409, 422),
    summary="Change the soft data of the report (the school's own notes); never touched by a fetch",
)
def update_report(ctx, bsn):
    return ctx.call("oso", "update_report", ctx.tenant, bsn, ctx.body, ctx.actor)


@route(
    "POST",
    "/oso/dossiers/<bsn>/report/finalize",
    roles=ADMIN,
    response=s.OsoDossier,
    tag=TAG,
    errors=(401, 403, 404),
    summary="Make the report (OKR) definitive: later fetches only touch final-test data",
)
def finalize_report(ctx, bsn):
    return ctx.call("oso", "finalize_report", ctx.tenant, bsn, ctx.actor)


@route(
    "POST",
    "/oso/dossiers/<bsn>/enrol",
    roles=ADMIN,
    body=s.OsoEnrolRequest,
    response=s.OsoEnrolResult,
    status=201,
    tag=TAG,
    errors=(400, 401, 403, 404, 409, 422, 503),
    summary="Create the student (given a student number) from the dossier's personal data",
)
def enrol(ctx, bsn):
    if not ctx.body["student_number"].isdigit():
        raise DomainError(
            "student_number_not_digits",
            "Het leerlingnummer bestaat alleen uit cijfers.",
            status=422,
            field="student_number",
            errors=[
                {
                    "field": "student_number",
                    "code": "student_number_not_digits",
                    "message": "Het leerlingnummer bestaat alleen uit cijfers.",
                }
            ],
        )
    return ctx.call("oso", "enrol", ctx.tenant, bsn, ctx.body, ctx.actor)
