from .. import schemas as s
from ..routing import Routes

api = Routes("auth")


@api.post(
    "/auth/token",
    auth=False,
    body=s.TokenRequest,
    response=s.TokenResponse,
    errors=(400, 401, 422, 429),
)
def issue_token(ctx):
    """Log in: exchange institution, code and password for a bearer token"""
    b = ctx.body
    principal = ctx.call("users", "authenticate", b["institution"], b["code"], b["password"])
    ctx.app.principals.put(principal["user_id"], principal)
    return {
        "access_token": ctx.app.tokens.issue(principal),
        "token_type": "bearer",
        "expires_in": ctx.app.settings.token_ttl,
    }


@api.get("/me", response=s.Me)
def me(ctx):
    """The caller's user record, roles and institution"""
    p = ctx.caller
    user = ctx.call("users", "get_user", p["institution_id"], p["code"])
    if p.get("is_platform"):
        institution = {"id": p["institution_id"], "name": "platform", "brin": None}
    else:
        institution = ctx.call("users", "get_institution", p["institution_id"])
    return {"user": user, "roles": p["roles"], "institution": institution}
