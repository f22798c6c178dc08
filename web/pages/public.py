"""The public page for a list sent with an upload code (leerlinglijst.nl in
Intergrip's manual): step 1 the school type, then the same steps as the
wizard, with the upload code and no account. The sender cannot read the list
back (the API reveals nothing about a school's students): the verdict comes
by e-mail."""
from ..app import Redirect, file_response, page
from ..filters import SCHOOL_TYPE
from ..forms import Form
from .school import send_list, student_type_arg

PATH = "/leerlinglijst-opsturen"


def school_type_arg(value):
    return value if value in SCHOOL_TYPE else None


def _public(ctx, school_type, student_type, form=None, status=200):
    step = 1 if not school_type else (2 if not student_type else 5)
    return ctx.render("public/upload.html", status=status, title="Leerlinglijst opsturen",
                      school_type=school_type, student_type=student_type,
                      form=form or Form(), step=step)


@page("GET", PATH, login=False)
def public_wizard(ctx):
    return _public(ctx, school_type_arg(ctx.query("schoolsoort")),
                   student_type_arg(ctx.query("soort")))


@page("GET", PATH + "/format", login=False)
def public_template(ctx):
    school, kind = school_type_arg(ctx.query("schoolsoort")), student_type_arg(ctx.query("soort"))
    if school is None or kind is None:
        raise Redirect(PATH)
    response = ctx.app.gateway.request("GET", "/public/uploads/template", raw=True,
                                       timing=ctx.api_timing,
                                       params={"school_type": school, "student_type": kind})
    return file_response(response, f"leerlinglijst-{school}-{kind}.xlsx")


@page("POST", PATH, login=False)
def public_send(ctx):
    f = ctx.request.form
    school = school_type_arg(f.get("school_type"))
    kind = student_type_arg(f.get("student_type"))
    code = f.get("upload_code", "").strip()
    if school is None:
        raise Redirect(PATH)

    def refused(form, status):
        form.values["upload_code"] = code
        if not code and not form.error("upload_code"):
            form.add("upload_code", "Vul de uploadcode van uw school in.")
        return _public(ctx, school, kind, form, status)

    if not code:
        return refused(Form.typed(f, ("name", "email", "note")), 422)
    gateway = ctx.app.gateway

    class Anonymous:
        """send_list's view of the gateway, without a token."""
        request = ctx.request

        @staticmethod
        def post(path, **kwargs):
            return gateway.request("POST", path, timing=ctx.api_timing, **kwargs)

    accepted, refusal = send_list(Anonymous, "/public/uploads",
                                  {"school_type": school, "upload_code": code}, refused)
    if refusal is not None:
        return refusal
    return ctx.redirect(f"{PATH}/ontvangen?schoolsoort={school}")


@page("GET", PATH + "/ontvangen", login=False)
def public_received(ctx):
    return ctx.render("public/received.html", title="Leerlinglijst opgestuurd",
                      school_type=school_type_arg(ctx.query("schoolsoort")))
