import logging

from services.common.errors import DomainError, forbidden

from .. import schemas as s
from ..routing import ANYONE, WRITE, Routes

MANAGERS = ("admin", "helpdesk")

api = Routes("users", roles=MANAGERS)

log = logging.getLogger("gateway")


def _register_student(ctx, institution_id, user):
    """A student account gets its student record at once (students owns it);
    when the students service does not answer, its reaction to the account's
    event adds the record later, so the answer stays the user's."""
    if user.get("type") != "student":
        return
    try:
        ctx.call("students", "register_students", institution_id, [user["code"]])
    except DomainError as exc:
        log.warning("student record of a new student account deferred: %s", exc.code)


@api.get("/users", query=s.UserListQuery, response=s.UserPage)
def list_users(ctx):
    """List users (filter all|students|employees|archived, q on name, e-mail, code)"""
    institution_id = ctx.institution_id()
    return ctx.call("users", "list_users", institution_id, **ctx.options)


@api.create("/users", body=s.UserCreate, response=s.User, errors=WRITE)
def create_user(ctx):
    """Create a user; is_student requires a digits-only code"""
    data = dict(ctx.body)
    institution_id = ctx.institution_id(data.pop("institution_id", None))
    user = ctx.call("users", "create_user", institution_id, data)
    _register_student(ctx, institution_id, user)
    return user


def _own_or_managed(ctx, code):
    """Admins/helpdesk read any user of the institution; anyone reads themselves."""
    if ctx.has_role(*MANAGERS) and (ctx.is_helpdesk or ctx.has_role("admin")):
        return ctx.institution_id()
    if ctx.actor["code"] == code:
        return ctx.tenant
    raise forbidden()


@api.get("/users/<code>", query=s.InstitutionScopeQuery, response=s.User, roles=ANYONE)
def get_user(ctx, code):
    """One user (admin; anyone may read themselves)"""
    return ctx.call("users", "get_user", _own_or_managed(ctx, code), code)


@api.patch(
    "/users/<code>", query=s.InstitutionScopeQuery, body=s.UserUpdate, response=s.User, errors=WRITE
)
def update_user(ctx, code):
    """Change a user's data, roles or password"""
    institution_id = ctx.institution_id()
    user = ctx.call("users", "update_user", institution_id, code, ctx.body)
    ctx.app.principals.drop(institution_id=institution_id, code=code)
    if "type" in ctx.body or "is_student" in ctx.body:
        _register_student(ctx, institution_id, user)
    return user


@api.post(
    "/users/<code>/archive",
    query=s.InstitutionScopeQuery,
    response=s.User,
    errors=(401, 403, 404, 409),
)
def archive_user(ctx, code):
    """Archive a user: they can no longer log in"""
    institution_id = ctx.institution_id()
    if institution_id == ctx.tenant and code == ctx.actor["code"]:
        raise DomainError(
            "cannot_archive_self", "U kunt uw eigen account niet archiveren.", status=409
        )
    user = ctx.call("users", "archive_user", institution_id, code)
    ctx.app.principals.drop(institution_id=institution_id, code=code)
    return user


@api.post(
    "/users/<code>/unarchive",
    query=s.InstitutionScopeQuery,
    response=s.User,
    errors=(401, 403, 404),
)
def unarchive_user(ctx, code):
    """Bring an archived user back"""
    institution_id = ctx.institution_id()
    user = ctx.call("users", "unarchive_user", institution_id, code)
    ctx.app.principals.drop(institution_id=institution_id, code=code)
    return user
