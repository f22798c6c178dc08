from services.common.errors import not_found

from .. import schemas as s
from ..routing import Routes

api = Routes("institutions", roles=("helpdesk",))


@api.get("/institutions", query=s.PageQuery, response=s.InstitutionPage)
def list_institutions(ctx):
    """List institutions"""
    return ctx.call("users", "list_institutions", ctx.query["page"], ctx.query["page_size"])


@api.create("/institutions", body=s.InstitutionCreate, response=s.Institution)
def create_institution(ctx):
    """Create an institution"""
    return ctx.call("users", "create_institution", ctx.body)


@api.get("/institutions/<int:institution_id>", roles=("helpdesk", "admin"), response=s.Institution)
def get_institution(ctx, institution_id):
    """One institution (helpdesk, or its own admin)"""
    if ctx.scope not in (None, institution_id):
        raise not_found("institution")
    return ctx.call("users", "get_institution", institution_id)
