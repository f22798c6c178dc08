"""The school administrator's pages (docs/web.md: School administrator): the
student-list wizard (Intergrip's Leerlinglijst opsturen, steps 1–5), my lists,
the students overview, one student, adding a student by hand, users."""
from ..app import Redirect, file_response, page
from ..client import ApiError
from ..filters import STUDENT_TYPE, date_nl, parse_date_nl
from ..forms import Form, act

ADMIN = ("admin",)
READERS = ("admin", "mentor")
UPLOAD_FIELDS = ("name", "email", "note", "file", "student_type", "school_type")
VO_TRACKS = ("vmbo-bb", "vmbo-kb", "vmbo-gl", "vmbo-tl", "havo", "vwo", "pro")
MBO_TRACKS = tuple(f"{kind}-{n}" for kind in ("BOL", "BBL") for n in range(1, 5))
STUDENT_FIELDS = ("student_number", "bsn", "onderwijsnummer", "initials", "first_name",
                  "prefix", "last_name", "date_of_birth", "gender", "email", "home_class",
                  "year_of_education", "track")
USER_FILTERS = [("all", "Alle"), ("students", "Leerlingen"), ("employees", "Medewerkers"),
                ("archived", "Gearchiveerd")]
PAGE_SIZE = 50


def school_type(ctx):
    return (ctx.institution.get("school_type") or "vo").lower()


def student_type_arg(value):
    return value if value in STUDENT_TYPE else None


# -- the wizard (Leerlinglijst opsturen) --------------------------------------------------
def _wizard(ctx, student_type, form=None, status=200):
    user = (ctx.session or {}).get("user") or {}
    if form is None:
        form = Form(values={"name": " ".join(p for p in (user.get("first_name"),
                                                         user.get("prefix"),
                                                         user.get("last_name")) if p)})
    return ctx.render("school/wizard.html", status=status, title="Leerlinglijst opsturen",
                      school_type=school_type(ctx), student_type=student_type, form=form,
                      step=4 if student_type else 2)


@page("GET", "/leerlinglijst", roles=ADMIN)
def wizard(ctx):
    return _wizard(ctx, student_type_arg(ctx.query("soort")))


@page("GET", "/leerlinglijst/format", roles=ADMIN)
def wizard_template(ctx):
    kind = student_type_arg(ctx.query("soort"))
    if kind is None:
        raise Redirect("/leerlinglijst")
    response = ctx.get("/uploads/template", raw=True,
                       params={"school_type": school_type(ctx), "student_type": kind})
    return file_response(response, f"leerlinglijst-{school_type(ctx)}-{kind}.xlsx")


def send_list(ctx, path, extra, on_error):
    """POST a list to the gateway as multipart; on a refusal `on_error(form)`."""
    f = ctx.request.form
    kind = student_type_arg(f.get("student_type"))
    form = Form(values={k: f.get(k, "").strip() for k in ("name", "email", "note")})
    form.values["student_type"] = kind or ""
    upload = ctx.request.files.get("file")
    if kind is None:
        form.add("student_type", "Kies eerst het soort leerlingen (stap 2).")
    if not form.values["name"]:
        form.add("name", "Vul uw naam in.")
    if not form.values["email"]:
        form.add("email", "Vul uw e-mailadres in; daar komt de bevestiging naartoe.")
    if upload is None or not upload.filename:
        form.add("file", "Kies het ingevulde Excel-bestand (.xlsx).")
    if form.has_errors:
        return None, on_error(form, 422)
    data = {"student_type": kind, "name": form.values["name"], "email": form.values["email"],
            **extra}
    if form.values["note"]:
        data["note"] = form.values["note"]
    accepted = form.submit(lambda: ctx.post(path, data=data, files={
        "file": (upload.filename, upload.stream, upload.mimetype or
                 "application/octet-stream")}), UPLOAD_FIELDS + ("upload_code",),
        refusals=(400, 413, 415, 422, 429))
    if form.has_errors:
        return None, on_error(form, form.status)
    return accepted, None


@page("POST", "/leerlinglijst", roles=ADMIN)
def wizard_send(ctx):
    kind = student_type_arg(ctx.request.form.get("student_type"))
    accepted, refusal = send_list(
        ctx, "/uploads", {"school_type": school_type(ctx)},
        lambda form, status: _wizard(ctx, kind, form, status))
    if refusal is not None:
        return refusal
    return ctx.redirect(f"/leerlinglijst/{accepted['id']}")


@page("GET", "/leerlinglijst/<int:upload_id>", roles=ADMIN)
def wizard_verdict(ctx, upload_id):
    errors_page = ctx.int_query("foutpagina")
    per_page = 100
    upload = ctx.get(f"/uploads/{upload_id}", params={
        "errors_offset": (errors_page - 1) * per_page, "errors_limit": per_page})
    form = Form(values={"name": upload.get("name"), "email": upload.get("email"),
                        "note": upload.get("note") or "",
                        "student_type": upload.get("student_type")})
    return ctx.render("school/verdict.html", title="Leerlinglijst opsturen", upload=upload,
                      form=form, school_type=upload.get("school_type"),
                      errors_result={"total": upload.get("errors_stored", 0),
                                     "page": errors_page, "page_size": per_page})


# -- my lists ---------------------------------------------------------------------------------
@page("GET", "/uploads", roles=ADMIN)
def my_lists(ctx):
    result = ctx.get("/uploads", params={"page": ctx.int_query("pagina"), "page_size": 25})
    return ctx.render("school/lists.html", title="Mijn lijsten", uploads=result)


# -- students ---------------------------------------------------------------------------------
def track_options():
    return [("", "Alle leerwegen")] + [(t, t) for t in VO_TRACKS + MBO_TRACKS]


@page("GET", "/leerlingen", roles=READERS)
def students(ctx):
    if ctx.request.args.get("reset"):
        raise Redirect("/leerlingen")
    filters = {"q": ctx.query("q"), "home_class": ctx.query("home_class"),
               "registered": ctx.query("registered"),
               "year_of_education": ctx.query("year_of_education"),
               "track": ctx.query("track"), "left": ctx.query("left")}
    params = {k: v for k, v in filters.items() if v}
    for flag in ("registered", "left"):
        if params.get(flag) not in (None, "true", "false"):
            params.pop(flag)
    form = Form(values=filters)
    none_found = {"items": [], "total": 0, "page": 1, "page_size": PAGE_SIZE}
    result = form.submit(lambda: ctx.get("/students", params={
        **params, "page": ctx.int_query("pagina"), "page_size": PAGE_SIZE}),
        tuple(filters), refusals=(400, 422)) or none_found
    return ctx.render("school/students.html", title="Leerlingen", students=result, form=form,
                      filters=filters, tracks=track_options(),
                      status=422 if form.has_errors else 200)


def placements(ctx, number):
    """The student's participations in every schedule project.

    Seam: GET /students/{n}/participations once that part of the API is
    merged; until then each project's participations are read (fine for the
    handful of projects a school has)."""
    try:
        result = ctx.get(f"/students/{number}/participations")
        return result.get("items", []) if isinstance(result, dict) else list(result or [])
    except ApiError as exc:
        if exc.status not in (404, 405):
            raise
    found = []
    projects = ctx.get("/projects").get("items", [])
    for project in projects:
        page_no = 1
        while True:
            result = ctx.get(f"/projects/{project['id']}/participations",
                             params={"page": page_no, "page_size": 500})
            for item in result["items"]:
                if item["student_number"] == number:
                    found.append({**item, "project_name": project["name"],
                                  "school_year": project["school_year"]})
            if page_no * 500 >= result["total"]:
                break
            page_no += 1
    return found


@page("GET", "/leerlingen/<number>", roles=READERS)
def student(ctx, number, record=None, form=None, status=200, revealed=False):
    record = record or ctx.get(f"/students/{number}")
    return ctx.render("school/student.html", status=status, title=record and
                      " ".join(p for p in (record.get("first_name"), record.get("prefix"),
                                           record.get("last_name")) if p),
                      student=record, placements=placements(ctx, number),
                      form=form or Form(), revealed=revealed,
                      leaving=ctx.query("vertrek") == "1" or (form is not None))


@page("POST", "/leerlingen/<number>/bsn", roles=ADMIN)
def reveal_bsn(ctx, number):
    """The full BSN, on this answer only (never in a URL); the API audits it."""
    revealed = ctx.get(f"/students/{number}", params={"reveal": "bsn"})
    return student(ctx, number, record=revealed, revealed=True)


@page("POST", "/leerlingen/<number>/vertrek", roles=ADMIN)
def leave(ctx, number):
    f = ctx.request.form
    form = Form(values={"date": f.get("date", "").strip()})
    body = {}
    try:
        day = parse_date_nl(form.values["date"])
        if day is None:
            form.add("date", "Vul de datum in waarop de leerling de school verlaat.")
        else:
            body["date"] = day.isoformat()
    except ValueError:
        form.add("date", "Vul een datum in als dd-mm-jjjj, bijvoorbeeld 31-07-2026.")
    if f.get("confirm") != "ja":
        form.add("confirm", "Bevestig dat de leerling de school verlaat.")
    result = form.submit(lambda: ctx.post(f"/students/{number}/leave", json=body), ("date",))
    if form.has_errors:
        return student(ctx, number, form=form, status=422)
    ctx.flash(_leave_message(result))
    return ctx.redirect(f"/leerlingen/{number}")


def _leave_message(result):
    day = date_nl(result.get("leave_date"))
    if result.get("status") == "leaving":
        return (f"Het vertrek is gepland op {day}. Op die dag worden de plaatsingen van dat en "
                "volgend schooljaar verwijderd en wordt het account gearchiveerd.")
    if not result.get("archived"):
        return (f"De leerling heeft de school verlaten op {day}: de plaatsingen zijn "
                "verwijderd. Het account wordt zo snel mogelijk gearchiveerd.")
    return (f"De leerling heeft de school verlaten op {day}: plaatsingen van dat en volgend "
            "schooljaar zijn verwijderd en het account is gearchiveerd.")


@page("POST", "/leerlingen/<number>/vertrek-intrekken", roles=ADMIN)
def cancel_leave(ctx, number):
    return act(ctx, lambda: ctx.delete(f"/students/{number}/leave"),
               "Het geplande vertrek is ingetrokken.", f"/leerlingen/{number}")


# -- a student by hand ------------------------------------------------------------------------
def _new_student(ctx, kind, form=None, status=200):
    return ctx.render("school/new_student.html", status=status, title="Nieuwe leerling",
                      kind=kind, form=form or Form(), school_type=school_type(ctx),
                      tracks=[("", "—")] + [(t, t) for t in (
                          VO_TRACKS if school_type(ctx) == "vo" else MBO_TRACKS)])


@page("GET", "/leerlingen/nieuw", roles=ADMIN)
def new_student(ctx):
    return _new_student(ctx, student_type_arg(ctx.query("type")))


@page("POST", "/leerlingen/nieuw", roles=ADMIN)
def create_student(ctx):
    f = ctx.request.form
    kind = student_type_arg(f.get("type"))
    if kind is None:
        raise Redirect("/leerlingen/nieuw")
    form = Form.typed(f, STUDENT_FIELDS)
    body = {"type": kind}
    for key, value in form.values.items():
        if not value:
            continue
        if key == "date_of_birth":
            try:
                value = parse_date_nl(value).isoformat()
            except ValueError:
                form.add(key, "Vul een datum in als dd-mm-jjjj, bijvoorbeeld 14-03-2011.")
                continue
        elif key == "year_of_education":
            if not value.isdigit():
                form.add(key, "Vul het leerjaar in als getal.")
                continue
            value = int(value)
        body[key] = value
    for required in ("student_number", "initials", "first_name", "last_name"):
        body.setdefault(required, "")
    created = form.submit(lambda: ctx.post("/students", json=body), STUDENT_FIELDS)
    if form.has_errors:
        return _new_student(ctx, kind, form, 422)
    ctx.flash("De leerling is toegevoegd.")
    return ctx.redirect(f"/leerlingen/{created['student_number']}")


# -- users ---------------------------------------------------------------------------------------
@page("GET", "/gebruikers", roles=ADMIN)
def users(ctx):
    which = ctx.query("filter") or "all"
    if which not in dict(USER_FILTERS):
        which = "all"
    q = ctx.query("q")
    params = {"filter": which, "page": ctx.int_query("pagina"), "page_size": PAGE_SIZE}
    if q:
        params["q"] = q
    result = ctx.get("/users", params=params)
    return ctx.render("school/users.html", title="Gebruikers", users=result, which=which, q=q,
                      filters=USER_FILTERS)


def _back_to_users(ctx):
    target = ctx.request.form.get("terug", "")
    return target if target.startswith("/gebruikers") and "//" not in target else "/gebruikers"


@page("POST", "/gebruikers/<code>/archiveren", roles=ADMIN)
def archive(ctx, code):
    return act(ctx, lambda: ctx.post(f"/users/{code}/archive"),
               f"Gebruiker {code} is gearchiveerd en kan niet meer inloggen.",
               _back_to_users(ctx))


@page("POST", "/gebruikers/<code>/terugzetten", roles=ADMIN)
def unarchive(ctx, code):
    ctx.post(f"/users/{code}/unarchive")
    ctx.flash(f"Gebruiker {code} is teruggezet.")
    return ctx.redirect(_back_to_users(ctx))


# -- a mentor's home classes ----------------------------------------------------------------
@page("GET", "/gebruikers/<code>/stamklassen", roles=ADMIN)
def mentor_classes(ctx, code, form=None, status=200):
    person = ctx.get(f"/users/{code}")
    classes = ctx.get(f"/mentors/{code}/classes")
    form = form or Form(values={"home_classes": ", ".join(classes.get("home_classes") or [])})
    return ctx.render("school/mentor_classes.html", status=status,
                      title=f"Stamklassen van {code}", person=person, form=form)


@page("POST", "/gebruikers/<code>/stamklassen", roles=ADMIN)
def save_mentor_classes(ctx, code):
    raw = ctx.request.form.get("home_classes", "")
    form = Form(values={"home_classes": raw.strip()})
    classes = [c.strip() for c in raw.replace(";", ",").split(",") if c.strip()]
    aliases = {f"home_classes.{i}": "home_classes" for i in range(len(classes))}
    aliases["code"] = "home_classes"
    saved = form.submit(lambda: ctx.put(f"/mentors/{code}/classes",
                                        json={"home_classes": classes}),
                        ("home_classes",), refusals=(400, 422), aliases=aliases)
    if form.has_errors:
        return mentor_classes(ctx, code, form, form.status)
    ctx.flash(f"Mentor {code} ziet nu de leerlingen van "
              f"{', '.join(saved['home_classes']) or 'geen enkele stamklas'}.")
    return ctx.redirect("/gebruikers?filter=employees")
