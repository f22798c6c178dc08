"""OSO transfer dossiers (docs/oso.md). Admin only, own
institution; the rules live in the oso service. Paths carry the BSN (or
onderwijsnummer): the access log masks long numbers."""

from urllib.parse import quote

from werkzeug.wrappers import Response

from services.common.errors import DomainError

from .. import files
from .. import schemas_oso as s
from ..routing import WRITE, Routes

ADMIN = ("admin",)
TAG = "oso"

api = Routes(TAG, roles=ADMIN)


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
@api.get("/oso/configuration", response=s.OsoConfiguration)
def configuration(ctx):
    """Which dossier source is configured and whether official validation is on"""
    return ctx.call("oso", "configuration")


@api.get("/oso/delivery-points", response=s.OsoDeliveryPointPage)
def list_delivery_points(ctx):
    """The registered delivery point (aanleverpunt); the key is masked"""
    return ctx.call("oso", "list_delivery_points", ctx.tenant)


@api.post(
    "/oso/delivery-points",
    body=s.OsoDeliveryPointCreate,
    response=s.OsoDeliveryPoint,
    status=201,
    errors=(400, 401, 403, 422),
)
def register_delivery_point(ctx):
    """Register (or replace) the delivery point with the key as Mijn OSO shows it; a BRIN given
    (field brin, or in front of the key) must be the institution's"""
    return ctx.call("oso", "register_delivery_point", ctx.tenant, ctx.body, ctx.actor)


# -- worklist -----------------------------------------------------------------------
@api.get("/oso/students", query=s.OsoWorklistQuery, response=s.OsoWorklistPage)
def list_worklist(ctx):
    """The OSO worklist: status, last action and dossier date per student"""
    q = ctx.query
    return ctx.call(
        "oso",
        "list_worklist",
        ctx.tenant,
        page=q["page"],
        page_size=q["page_size"],
        status=q.get("status"),
    )


@api.create("/oso/students", body=s.OsoWorklistAdd, response=s.OsoWorklistEntry)
def add_to_worklist(ctx):
    """Add a student to the worklist by BSN (or onderwijsnummer)"""
    body = {
        k: (str(v) if isinstance(v, int) and not isinstance(v, bool) else v)
        for k, v in ctx.body.items()
    }
    return ctx.call("oso", "add_to_worklist", ctx.tenant, body, ctx.actor)


@api.upload(
    "/oso/students/import",
    response=s.OsoWorklistImportResult,
    errors=(400, 401, 403, 413, 415, 422),
)
def import_worklist(ctx):
    """Add students from an .xlsx with one column titled BSN; invalid numbers and duplicates are
    reported by row, the valid ones added"""
    filename, ref = files.receive(ctx)
    return files.call_with_file(
        ctx, ref, "oso", "import_worklist", ctx.tenant, filename, ref, ctx.actor
    )


@api.delete("/oso/students/<bsn>", status=204, errors=(401, 403, 404, 409))
def remove_from_worklist(ctx, bsn):
    """Remove a student from the worklist (and their stored dossier)"""
    ctx.call("oso", "remove_from_worklist", ctx.tenant, bsn, ctx.actor)
    return Response(status=204)


# -- actions ------------------------------------------------------------------------
@api.post(
    "/oso/actions",
    body=s.OsoActionsRequest,
    response=s.OsoBatch,
    status=202,
    errors=(400, 401, 403, 409, 422, 503),
)
def start_actions(ctx):
    """Execute import / supplement / overwrite / none per student (or for all) in the
    background; poll GET /oso/actions/{id}"""
    body = dict(ctx.body)
    body["items"] = [{"bsn": str(i["bsn"]), "action": i.get("action")} for i in body["items"]]
    batch = ctx.call("oso", "start_actions", ctx.tenant, body, ctx.actor)
    return batch, 202


@api.get("/oso/actions/<int:batch_id>", response=s.OsoBatch)
def get_batch(ctx, batch_id):
    """Progress and status per student of an execution"""
    return ctx.call("oso", "get_batch", ctx.tenant, batch_id)


# -- dossiers -----------------------------------------------------------------------
@api.get("/oso/dossiers/<bsn>", response=s.OsoDossier)
def get_dossier(ctx, bsn):
    """The stored dossier (parsed), its source file, validation messages, last action and date"""
    return ctx.call("oso", "get_dossier", ctx.tenant, bsn, ctx.actor)


@api.get("/oso/dossiers/<bsn>/source.xml")
def get_source_file(ctx, bsn):
    """The original XML of the stored dossier"""
    return download(ctx, ctx.call("oso", "get_source_file", ctx.tenant, bsn, ctx.actor))


@api.get("/oso/dossiers/<bsn>/attachments/<ref>")
def get_attachment(ctx, bsn, ref):
    """Download one attachment of the dossier (id from data.attachments)"""
    return download(ctx, ctx.call("oso", "get_attachment", ctx.tenant, bsn, ref, ctx.actor))


@api.patch("/oso/dossiers/<bsn>/report", body=s.OsoReportUpdate, response=s.OsoReport, errors=WRITE)
def update_report(ctx, bsn):
    """Change the soft data of the report (the school's own notes); never touched by a fetch"""
    return ctx.call("oso", "update_report", ctx.tenant, bsn, ctx.body, ctx.actor)


@api.post("/oso/dossiers/<bsn>/report/finalize", response=s.OsoDossier, errors=(401, 403, 404))
def finalize_report(ctx, bsn):
    """Make the report (OKR) definitive: later fetches only touch final-test data"""
    return ctx.call("oso", "finalize_report", ctx.tenant, bsn, ctx.actor)


@api.post(
    "/oso/dossiers/<bsn>/enrol",
    body=s.OsoEnrolRequest,
    response=s.OsoEnrolResult,
    status=201,
    errors=(400, 401, 403, 404, 409, 422, 503),
)
def enrol(ctx, bsn):
    """Create the student (given a student number) from the dossier's personal data"""
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
