from .. import schemas as s
from ..routing import route


@route(
    "POST",
    "/auth/token",
    auth=False,
    body=s.TokenRequest,
    response=s.TokenResponse,
    summary="Log in: exchange institution, code and password for a bearer token",
    tag="auth",
    errors=(400, 401, 422, 429),
)
def issue_token(ctx):
    b = ctx.body
    principal = ctx.call("users", "authenticate", b["institution"], b["code"], b["password"])
    ctx.app.principals.put(principal["user_id"], principal)
    return {
        "access_token": ctx.app.tokens.issue(principal),
        "token_type": "bearer",
        "expires_in": ctx.app.settings.token_ttl,
    }


@route(
    "GET",
    "/me",
    response=s.Me,
    summary="The caller's user record, roles and institution",
    tag="auth",
)
def me(ctx):
    p = ctx.caller
    user = ctx.call("users", "get_user", p["institution_id"], p["code"])
    if p.get("is_platform"):
        institution = {"id": p["institution_id"], "name": "platform", "brin": None}
    else:
        institution = ctx.call("users", "get_institution", p["institution_id"])
    return {"user": user, "roles": p["roles"], "institution": institution}
