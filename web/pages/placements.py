"""Placements (docs/web.md: Placements): schedule projects and their departments (who
leads the home classes, changeable; learning paths), the participations of a
project with filters, adding one by hand (the manual's "Toevoegen"), changing
one (a new department asks what happens to the package: keep or wipe), and
the placements export."""
from ..app import PageError, file_response, page
from ..client import ApiError
from ..forms import Form

ADMIN = ("admin",)
PAGE_SIZE = 50
PROJECT_FIELDS = ("name", "school_year", "branch")
DEPARTMENT_FIELDS = ("code", "year_of_education", "education", "home_class_authority")
PART_FIELDS = ("student_number", "department", "forecast", "profile", "programme",
               "learning_path", "home_class", "lwoo", "keep_package")
AUTHORITIES = [("portal", "Portal leidend"), ("desktop", "Desktop leidend")]
LEARNING_PATH_ROWS = 3


def _items(result):
    return result.get("items", []) if isinstance(result, dict) else list(result or [])


# -- projects -------------------------------------------------------------------------------
@page("GET", "/projecten", roles=ADMIN)
def projects(ctx, form=None, status=200):
    return ctx.render("placements/projects.html", status=status, title="Projecten",
                      projects=_items(ctx.get("/projects")), form=form or Form())


@page("POST", "/projecten", roles=ADMIN)
def create_project(ctx):
    form = Form.typed(ctx.request.form, PROJECT_FIELDS)
    project = form.submit(lambda: ctx.post("/projects", json=dict(form.values)), PROJECT_FIELDS)
    if form.has_errors:
        return projects(ctx, form, form.status)
    ctx.flash(f"Roosterproject {project['name']} is aangemaakt. Voeg nu de afdelingen toe.")
    return ctx.redirect(f"/projecten/{project['id']}")


# -- one project: departments and participations ----------------------------------------------
def _participation_filters(ctx):
    return {"afdeling": ctx.query("afdeling"), "leerling": ctx.query("leerling"),
            "stamklas": ctx.query("stamklas")}


@page("GET", "/projecten/<int:project_id>", roles=ADMIN)
def project(ctx, project_id, dept_form=None, status=200, authority_form=None):
    project = ctx.get(f"/projects/{project_id}")
    departments = _items(ctx.get(f"/projects/{project_id}/departments"))
    filters = _participation_filters(ctx)
    params = {"page": ctx.int_query("pagina"), "page_size": PAGE_SIZE, "names": "true"}
    for key, api in (("afdeling", "department"), ("leerling", "student_number"),
                     ("stamklas", "home_class")):
        if filters[key]:
            params[api] = filters[key]
    filter_form = Form(values=filters)
    none_found = {"items": [], "total": 0, "page": 1, "page_size": PAGE_SIZE}
    participations = filter_form.submit(
        lambda: ctx.get(f"/projects/{project_id}/participations", params=params),
        ("afdeling", "leerling", "stamklas"), refusals=(400, 422),
        aliases={"department": "afdeling", "student_number": "leerling",
                 "home_class": "stamklas"}) or none_found
    return ctx.render("placements/project.html", status=status, title=project["name"],
                      project=project, departments=departments, participations=participations,
                      filters=filters, filter_form=filter_form, dept_form=dept_form or Form(
                          values={"home_class_authority": "portal"}),
                      authority_form=authority_form or Form(), authorities=AUTHORITIES)


@page("POST", "/projecten/<int:project_id>/afdelingen", roles=ADMIN)
def create_department(ctx, project_id):
    form = Form.typed(ctx.request.form, DEPARTMENT_FIELDS)
    body = dict(form.values)
    if body["year_of_education"].isdigit():
        body["year_of_education"] = int(body["year_of_education"])
    elif body["year_of_education"]:
        form.add("year_of_education", "Vul het leerjaar in als getal.")
        return project(ctx, project_id, form, 422)
    else:
        body.pop("year_of_education")
    form.submit(lambda: ctx.post(f"/projects/{project_id}/departments", json=body),
                DEPARTMENT_FIELDS)
    if form.has_errors:
        return project(ctx, project_id, form, form.status)
    ctx.flash(f"Afdeling {body['code']} is toegevoegd.")
    return ctx.redirect(f"/projecten/{project_id}#afdelingen")


@page("POST", "/projecten/<int:project_id>/afdelingen/<code>/stamklasindeling", roles=ADMIN)
def set_authority(ctx, project_id, code):
    """Bij Afdelingen: wie de stamklasindeling leidt (portal of desktop), vanaf nu."""
    value = ctx.request.form.get("home_class_authority", "")
    try:
        ctx.patch(f"/projects/{project_id}/departments/{code}",
                  json={"home_class_authority": value})
    except ApiError as exc:
        if exc.status not in (400, 422):
            raise
        ctx.flash(f"Afdeling {code}: {exc.detail}", "error")
    else:
        who = "het portal" if value == "portal" else "de desktop (roosterapplicatie)"
        ctx.flash(f"De stamklasindeling van afdeling {code} wordt vanaf nu door {who} geleid.")
    return ctx.redirect(f"/projecten/{project_id}#afdelingen")


# -- learning paths ---------------------------------------------------------------------------
def _department(ctx, project_id, code):
    for dept in _items(ctx.get(f"/projects/{project_id}/departments")):
        if dept["code"] == code:
            return dept
    raise PageError(404, "Niet gevonden", f"Afdeling {code} bestaat niet in dit project.")


@page("GET", "/projecten/<int:project_id>/afdelingen/<code>/leerpaden", roles=ADMIN)
def learning_paths(ctx, project_id, code, rows=None, form=None, status=200):
    project = ctx.get(f"/projects/{project_id}")
    dept = _department(ctx, project_id, code)
    rows = rows if rows is not None else [dict(p) for p in dept.get("learning_paths") or []]
    rows = rows + [{"code": "", "name": "", "element_code": ""}] * LEARNING_PATH_ROWS
    return ctx.render("placements/learning_paths.html", status=status,
                      title=f"Leerpaden van {code}", project=project, dept=dept, rows=rows,
                      form=form or Form())


@page("POST", "/projecten/<int:project_id>/afdelingen/<code>/leerpaden", roles=ADMIN)
def save_learning_paths(ctx, project_id, code):
    f = ctx.request.form
    rows, index = [], 0
    while f"code-{index}" in f:
        row = {k: f.get(f"{k}-{index}", "").strip() for k in ("code", "name", "element_code")}
        if any(row.values()):
            rows.append(row)
        index += 1
    body = [{k: v for k, v in row.items() if v or k != "name"} for row in rows]
    form = Form()
    for i, row in enumerate(rows):
        if not row["code"]:
            form.add(f"code-{i}", "Vul de code van het leerpad in.")
        if not row["element_code"]:
            form.add(f"element_code-{i}", "Vul de elementcode in: daarmee krijgt de leerling "
                                          "de juiste plaatsing in de administratie.")
    aliases = {f"learning_paths.{i}.{k}": f"{k}-{i}"
               for i in range(len(rows)) for k in ("code", "name", "element_code")}
    form.submit(lambda: ctx.put(f"/projects/{project_id}/departments/{code}/learning-paths",
                                json={"learning_paths": body}),
                tuple(aliases.values()), refusals=(400, 422), aliases=aliases)
    if form.has_errors:
        return learning_paths(ctx, project_id, code, rows, form, form.status)
    ctx.flash(f"De leerpaden van afdeling {code} zijn opgeslagen.")
    return ctx.redirect(f"/projecten/{project_id}#afdelingen")


@page("GET", "/projecten/<int:project_id>/plaatsingen.csv", roles=ADMIN)
def placements_csv(ctx, project_id):
    response = ctx.get(f"/projects/{project_id}/placements.csv", raw=True)
    return file_response(response, f"plaatsingen-{project_id}.csv")


# -- a participation by hand (Toevoegen) -------------------------------------------------------
def _part_body(form, partial=False):
    """The API body from the typed values; typing mistakes go to `form`."""
    body = {}
    for key in ("student_number", "department", "profile", "programme", "learning_path",
                "home_class"):
        value = form.values.get(key, "")
        if value or partial:
            body[key] = value or None
    raw = form.values.get("forecast", "").rstrip("%").strip()
    if raw:
        if raw.isdigit():
            body["forecast"] = int(raw)
        else:
            form.add("forecast", "Vul de prognose in als geheel getal van 0 tot en met 100.")
    elif partial:
        body["forecast"] = None
    body["lwoo"] = form.values.get("lwoo") == "1"
    return body


@page("GET", "/projecten/<int:project_id>/toevoegen", roles=ADMIN)
def add_form(ctx, project_id, form=None, status=200):
    project = ctx.get(f"/projects/{project_id}")
    departments = _items(ctx.get(f"/projects/{project_id}/departments"))
    return ctx.render("placements/add.html", status=status, title="Afdelingsdeelname toevoegen",
                      project=project, departments=departments,
                      form=form or Form(values={"student_number": ctx.query("leerling")}))


@page("POST", "/projecten/<int:project_id>/toevoegen", roles=ADMIN)
def add(ctx, project_id):
    form = Form.typed(ctx.request.form, PART_FIELDS)
    body = _part_body(form)
    for required, message in (("student_number", "Vul het leerlingnummer in."),
                              ("department", "Kies de afdeling.")):
        if not form.values.get(required):
            form.add(required, message)
    created = form.submit(lambda: ctx.post(f"/projects/{project_id}/participations", json=body),
                          PART_FIELDS, refusals=(400, 404, 409, 422))
    if form.has_errors:
        return add_form(ctx, project_id, form, 422)
    ctx.flash(f"Leerling {created['student_number']} is geplaatst in afdeling "
              f"{created['department']}.")
    return ctx.redirect(f"/projecten/{project_id}?leerling={created['student_number']}"
                        "#deelnames")


# -- one participation: change, department change with the package choice, remove ------------
def _participation(ctx, project_id, participation_id):
    part = ctx.get(f"/participations/{participation_id}")
    if part["project_id"] != project_id:
        raise PageError(404, "Niet gevonden", "Deze afdelingsdeelname hoort niet bij dit "
                                              "project.")
    return part


@page("GET", "/projecten/<int:project_id>/deelnames/<int:participation_id>", roles=ADMIN)
def participation(ctx, project_id, participation_id, form=None, status=200):
    project = ctx.get(f"/projects/{project_id}")
    part = _participation(ctx, project_id, participation_id)
    departments = _items(ctx.get(f"/projects/{project_id}/departments"))
    package = ctx.get(f"/participations/{participation_id}/package")
    student = ctx.get(f"/students/{part['student_number']}")
    others = [p for p in _items(ctx.get(f"/projects/{project_id}/participations", params={
        "student_number": part["student_number"], "page_size": 50}))
        if p["id"] != part["id"]]
    if form is None:
        form = Form(values={k: "" if part.get(k) is None else str(part.get(k))
                            for k in PART_FIELDS if k not in ("lwoo", "keep_package")})
        form.values["lwoo"] = "1" if part.get("lwoo") else ""
    authority = {d["code"]: d["home_class_authority"] for d in departments}
    return ctx.render("placements/participation.html", status=status,
                      title=f"Afdelingsdeelname van {part['student_number']}", project=project,
                      part=part, departments=departments, package=package, student=student,
                      others=others, form=form, authority=authority,
                      has_package=bool(package.get("subjects") or package.get("exemptions")))


@page("POST", "/projecten/<int:project_id>/deelnames/<int:participation_id>", roles=ADMIN)
def save_participation(ctx, project_id, participation_id):
    part = _participation(ctx, project_id, participation_id)
    f = ctx.request.form
    form = Form.typed(f, PART_FIELDS)
    body = _part_body(form, partial=True)
    body.pop("student_number", None)
    # only what changed: an unchanged home class where the desktop leads is no change
    body = {k: v for k, v in body.items() if v != part.get(k)}
    if "department" in body:
        if not body["department"]:
            form.add("department", "Kies de afdeling.")
        choice = form.values.get("keep_package")
        if choice in ("behouden", "wissen"):
            body["keep_package"] = choice == "behouden"
        elif f.get("has_package") == "1":
            form.add("keep_package", "De leerling heeft een keuzepakket: kies of u het "
                                     "behoudt of wist.")
        else:
            body["keep_package"] = True
    if not body and not form.has_errors:
        ctx.flash("Er is niets gewijzigd.")
        return ctx.redirect(f"/projecten/{project_id}/deelnames/{participation_id}")
    changed = form.submit(lambda: ctx.patch(f"/participations/{participation_id}", json=body),
                          PART_FIELDS, refusals=(400, 403, 409, 422))
    if form.has_errors:
        return participation(ctx, project_id, participation_id, form, 422)
    message = "De afdelingsdeelname is opgeslagen."
    if "department" in body:
        message = (f"Leerling {changed['student_number']} zit nu in afdeling "
                   f"{changed['department']}; het pakket is "
                   f"{'behouden' if body.get('keep_package') else 'gewist'} en de "
                   "groepsdeelnames van de oude afdeling zijn vervallen.")
    ctx.flash(message)
    return ctx.redirect(f"/projecten/{project_id}/deelnames/{participation_id}")


@page("POST", "/projecten/<int:project_id>/deelnames/<int:participation_id>/verwijderen",
      roles=ADMIN)
def remove_participation(ctx, project_id, participation_id):
    part = _participation(ctx, project_id, participation_id)
    if ctx.request.form.get("confirm") != "ja":
        ctx.flash("Vink aan dat u de afdelingsdeelname wilt verwijderen.", "error")
        return ctx.redirect(f"/projecten/{project_id}/deelnames/{participation_id}"
                            "#verwijderen")
    ctx.delete(f"/participations/{participation_id}")
    ctx.flash(f"De afdelingsdeelname van leerling {part['student_number']} in afdeling "
              f"{part['department']} is verwijderd. De leerling blijft als gebruiker actief.")
    return ctx.redirect(f"/projecten/{project_id}#deelnames")

