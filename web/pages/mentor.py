"""The mentor's page (docs/web.md: My students): the students of the home classes the
mentor looks after, their participations in a schedule project (next year's
by default), the forecast and the home class editable where the rules allow
(the API says per participation what may change); a refusal is shown in the
API's words beside the row."""
from urllib.parse import urlencode

from ..app import page
from ..forms import Form

MENTORS = ("mentor",)
PAGE_SIZE = 50


def _projects(ctx):
    result = ctx.get("/projects")
    return result.get("items", []) if isinstance(result, dict) else list(result or [])


@page("GET", "/mentor", roles=MENTORS)
def students(ctx, forms=None, status=200):
    code = (ctx.session.get("user") or {}).get("code")
    params = {"page": ctx.int_query("pagina"), "page_size": PAGE_SIZE}
    project = ctx.query("project")
    if project.isdigit():
        params["project_id"] = int(project)
    result = ctx.get(f"/mentors/{code}/students", params=params)
    args = {k: ctx.query(k) for k in ("project", "pagina") if ctx.query(k)}
    return ctx.render("mentor/students.html", status=status, title="Mijn leerlingen",
                      result=result, projects=_projects(ctx), forms=forms or {},
                      request_args=args, request_query=urlencode(args))


@page("POST", "/mentor/deelnames/<int:participation_id>", roles=MENTORS)
def save(ctx, participation_id):
    """One participation's forecast and home class, as the mentor typed them."""
    f = ctx.request.form
    form = Form(values={"forecast": f.get("forecast", "").strip(),
                        "home_class": f.get("home_class", "").strip()})
    body = {}
    raw = form.values["forecast"].rstrip("%").strip()
    if raw == "":
        body["forecast"] = None
    elif raw.isdigit():
        body["forecast"] = int(raw)
    else:
        form.add("forecast", "Vul de prognose in als geheel getal van 0 tot en met 100.")
    if f.get("home_class_editable") == "1":
        body["home_class"] = form.values["home_class"] or None
    back = f.get("terug", "")
    back = back if back.startswith("/mentor") and "//" not in back else "/mentor"
    part = form.submit(lambda: ctx.patch(f"/participations/{participation_id}", json=body),
                       ("forecast", "home_class"), refusals=(400, 403, 409, 422))
    if form.has_errors:
        return students(ctx, {participation_id: form}, 422)
    ctx.flash(f"Opgeslagen: leerling {part['student_number']}, afdeling "
              f"{part['department']}.")
    return ctx.redirect(back + f"#deelname-{participation_id}")
