from services.common.errors import not_found

from .. import schemas as s
from ..routing import route


@route(
    "GET",
    "/institutions",
    roles=("helpdesk",),
    query=s.PageQuery,
    response=s.InstitutionPage,
    summary="List institutions",
    tag="institutions",
)
def list_institutions(ctx):
    return ctx.call("users", "list_institutions", ctx.query["page"], ctx.query["page_size"])


@route(
    "POST",
    "/institutions",
    roles=("helpdesk",),
    body=s.InstitutionCreate,
    response=s.Institution,
    status=201,
    summary="Create an institution",
    tag="institutions",
    errors=(400, 401, 403, 409, 422),
)
def create_institution(ctx):
    return ctx.call("users", "create_institution", ctx.body)


@route(
    "GET",
    "/institutions/<int:institution_id>",
    roles=("helpdesk", "admin"),
    response=s.Institution,
    summary="One institution (helpdesk, or its own admin)",
    tag="institutions",
)
def get_institution(ctx, institution_id):
    if ctx.scope not in (None, institution_id):
        raise not_found("institution")
    return ctx.call("users", "get_institution", institution_id)
