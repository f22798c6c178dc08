"""Login, logout and the start page (docs/web.md: Everyone)."""
import time

from ..app import local_path, page
from ..client import ApiError
from ..forms import Form

LOGIN_FIELDS = ("institution", "code", "password")


def _login_page(ctx, form, status=200):
    return ctx.render("login.html", status=status, title="Inloggen", form=form,
                      next=local_path(ctx.request.values.get("volgende"), ""),
                      expired=ctx.request.args.get("verlopen") == "1",
                      logged_out=ctx.request.args.get("uitgelogd") == "1")


@page("GET", "/inloggen", login=False)
def login_form(ctx):
    if ctx.logged_in:
        return ctx.redirect(local_path(ctx.request.args.get("volgende")))
    return _login_page(ctx, Form())


@page("POST", "/inloggen", login=False)
def login(ctx):
    f = ctx.request.form
    form = Form(values={"institution": f.get("institution", "").strip(),
                        "code": f.get("code", "").strip()})
    password = f.get("password", "")
    for name, label in (("institution", "School"), ("code", "Gebruikersnaam")):
        if not form.values[name]:
            form.add(name, f"Vul uw {label.lower()} in." if name == "code"
                     else "Vul de BRIN-code van uw school in (of 'platform' voor de helpdesk).")
    if not password:
        form.add("password", "Vul uw wachtwoord in.")
    if form.has_errors:
        return _login_page(ctx, form, 422)
    gw = ctx.app.gateway
    try:
        token = gw.request("POST", "/auth/token", timing=ctx.api_timing, json={
            "institution": form.values["institution"], "code": form.values["code"],
            "password": password})
        me = gw.request("GET", "/me", token=token["access_token"], timing=ctx.api_timing)
    except ApiError as exc:
        if exc.status == 401:
            form.general.append(exc.detail or "Deze combinatie van school, gebruikersnaam en "
                                "wachtwoord is onbekend.")
            return _login_page(ctx, form, 401)
        if exc.status in (400, 422, 429):
            form.from_api(exc, LOGIN_FIELDS, aliases={"brin": "institution"})
            return _login_page(ctx, form, exc.status)
        raise
    institution = me.get("institution") or {}
    user = me.get("user") or {}
    ctx.app.start_session(ctx, {
        "token": token["access_token"],
        "expires_at": time.time() + min(int(token.get("expires_in") or 0) or
                                        ctx.app.settings.session_ttl,
                                        ctx.app.settings.session_ttl),
        "created_at": time.time(),
        "roles": list(me.get("roles") or []),
        "user": {"code": user.get("code"), "first_name": user.get("first_name"),
                 "prefix": user.get("prefix"), "last_name": user.get("last_name")},
        "institution": {"id": institution.get("id"), "name": institution.get("name"),
                        "brin": institution.get("brin"),
                        "school_type": institution.get("school_type")},
    })
    return ctx.redirect(local_path(f.get("volgende")))


@page("POST", "/uitloggen", login=False)
def logout(ctx):
    ctx.app.end_session(ctx)
    return ctx.redirect("/inloggen?uitgelogd=1")


@page("GET", "/")
def start(ctx):
    return ctx.render("start.html", title="Start")
