"""The portal connector (docs/connector.md): the
desktop's snapshot, status, differences, downloads, uploads and the mutation
feed. Role scheduler (or admin), own institution only; the rules live in the
sync service, a project of another institution is a 404."""

from .. import schemas_sync as s
from ..routing import Routes

ROLES = ("scheduler", "admin")
TAG = "sync"

api = Routes(TAG, roles=ROLES)
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


@api.put(
    "/sync/<int:project_id>/snapshot",
    response=s.SnapshotResult,
    errors=(400, 401, 403, 404, 413, 415, 422),
    body_doc=s.Snapshot,
    max_body="sync_snapshot_max_bytes",
    deadline=LONG,
)
def put_snapshot(ctx, project_id):
    """The desktop's state of the project (the snapshot of docs/connector.md: students,
    participations, packages, groups; unknown keys 422); the portal is read afresh and the status
    answered"""
    return ctx.call("sync", "put_snapshot", ctx.tenant, project_id, ctx.body)


@api.get("/sync/<int:project_id>/snapshot", response=s.StoredSnapshot, errors=(401, 403, 404, 409))
def get_snapshot(ctx, project_id):
    """The stored snapshot as the connector knows it (after downloads)"""
    return ctx.call("sync", "get_snapshot", ctx.tenant, project_id)


@api.get(
    "/sync/<int:project_id>/status",
    deadline=LONG,
    query=s.StatusQuery,
    response=s.Status,
    errors=(401, 403, 404, 409, 422),
)
def get_status(ctx, project_id):
    """Per category ok/differences, the count and as_of; refresh=true reads the portal again"""
    return ctx.call("sync", "status", ctx.tenant, project_id, **ctx.options)


@api.get(
    "/sync/<int:project_id>/differences/<category>",
    deadline=LONG,
    query=s.DifferencesQuery,
    response=s.Differences,
    errors=CATEGORY_ERRORS,
)
def get_differences(ctx, project_id, category):
    """Per student and field the portal value P and desktop value D; per department who leads
    the home classes"""
    return ctx.call("sync", "differences", ctx.tenant, project_id, category, **ctx.options)


@api.post(
    "/sync/<int:project_id>/download/<category>",
    deadline=LONG,
    body=s.Selection,
    response=s.DownloadResult,
    errors=CATEGORY_ERRORS,
)
def download(ctx, project_id, category):
    """The changes the desktop must apply for the selected departments/students; the stored
    snapshot is updated to match"""
    return _for_selection(ctx, "download", project_id, category)


@api.post(
    "/sync/<int:project_id>/upload/<category>",
    deadline=LONG,
    body=s.Selection,
    response=s.UploadResult,
    errors=CATEGORY_ERRORS,
)
def upload(ctx, project_id, category):
    """Carry desktop changes into the portal: students (create missing users), home_classes and
    groups where the desktop leads; elsewhere 409"""
    return _for_selection(ctx, "upload", project_id, category)


@api.get(
    "/sync/<int:project_id>/mutations",
    query=s.MutationsQuery,
    response=s.MutationPage,
    errors=(401, 403, 404, 422),
)
def list_mutations(ctx, project_id):
    """What changed in the portal since a moment (the mutation feed)"""
    return ctx.call("sync", "mutations", ctx.tenant, project_id, **ctx.options)
