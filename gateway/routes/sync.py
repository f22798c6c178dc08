"""The portal connector (API.md "Portal connector", docs/connector.md): the
desktop's snapshot, status, differences, downloads, uploads and the mutation
feed. Role scheduler (or admin), own institution only; the rules live in the
sync service, a project of another institution is a 404."""

from .. import schemas_sync as s
from ..routing import route

ROLES = ("scheduler", "admin")
TAG = "sync"
CATEGORY_ERRORS = (400, 401, 403, 404, 409, 422)

# A snapshot, refresh, download or upload of a large project (20,000
# students) takes longer than the usual deadline: those routes name their own
# (deadline="sync_deadline"); a snapshot has its own size limit too.
LONG = "sync_deadline"


def _for_selection(ctx, method, project_id, category):
    """A download or upload of one category for the selected departments/students."""
    b = ctx.body
    return ctx.call(
        "sync",
        method,
        ctx.tenant,
        project_id,
        category,
        departments=b.get("departments"),
        student_numbers=b.get("student_numbers"),
    )


@route(
    "PUT",
    "/sync/<int:project_id>/snapshot",
    roles=ROLES,
    response=s.SnapshotResult,
    tag=TAG,
    errors=(400, 401, 403, 404, 413, 415, 422),
    body_doc=s.Snapshot,
    max_body="sync_snapshot_max_bytes",
    deadline=LONG,
    summary="The desktop's state of the project (API.md snapshot format: students, "
    "participations, packages, groups; unknown keys 422); the portal is read "
    "afresh and the status answered",
)
def put_snapshot(ctx, project_id):
    return ctx.call("sync", "put_snapshot", ctx.tenant, project_id, ctx.body)


@route(
    "GET",
    "/sync/<int:project_id>/snapshot",
    roles=ROLES,
    response=s.StoredSnapshot,
    tag=TAG,
    errors=(401, 403, 404, 409),
    summary="The stored snapshot as the connector knows it (after downloads)",
)
def get_snapshot(ctx, project_id):
    return ctx.call("sync", "get_snapshot", ctx.tenant, project_id)


@route(
    "GET",
    "/sync/<int:project_id>/status",
    deadline=LONG,
    roles=ROLES,
    query=s.StatusQuery,
    response=s.Status,
    tag=TAG,
    errors=(401, 403, 404, 409, 422),
    summary="Per category ok/differences, the count and as_of; refresh=true reads the portal again",
)
def get_status(ctx, project_id):
    return ctx.call("sync", "status", ctx.tenant, project_id, refresh=ctx.query["refresh"])


@route(
    "GET",
    "/sync/<int:project_id>/differences/<category>",
    deadline=LONG,
    roles=ROLES,
    query=s.DifferencesQuery,
    response=s.Differences,
    tag=TAG,
    errors=CATEGORY_ERRORS,
    summary="Per student and field the portal value P and desktop value D; per department "
    "who leads the home classes",
)
def get_differences(ctx, project_id, category):
    return ctx.call(
        "sync", "differences", ctx.tenant, project_id, category, department=ctx.query["department"]
    )


@route(
    "POST",
    "/sync/<int:project_id>/download/<category>",
    deadline=LONG,
    roles=ROLES,
    body=s.Selection,
    response=s.DownloadResult,
    tag=TAG,
    errors=CATEGORY_ERRORS,
    summary="The changes the desktop must apply for the selected departments/students; "
    "the stored snapshot is updated to match",
)
def download(ctx, project_id, category):
    return _for_selection(ctx, "download", project_id, category)


@route(
    "POST",
    "/sync/<int:project_id>/upload/<category>",
    deadline=LONG,
    roles=ROLES,
    body=s.Selection,
    response=s.UploadResult,
    tag=TAG,
    errors=CATEGORY_ERRORS,
    summary="Carry desktop changes into the portal: students (create missing users), "
    "home_classes and groups where the desktop leads; elsewhere 409",
)
def upload(ctx, project_id, category):
    return _for_selection(ctx, "upload", project_id, category)


@route(
    "GET",
    "/sync/<int:project_id>/mutations",
    roles=ROLES,
    query=s.MutationsQuery,
    response=s.MutationPage,
    tag=TAG,
    errors=(401, 403, 404, 422),
    summary="What changed in the portal since a moment (the mutation feed)",
)
def list_mutations(ctx, project_id):
    q = ctx.query
    return ctx.call(
        "sync",
        "mutations",
        ctx.tenant,
        project_id,
        since=q["since"],
        page=q["page"],
        page_size=q["page_size"],
    )
