"""CSV imports from the student administration (docs/web.md: CSV import, Participations
import, Import history), in the words of the Zermelo manual (Nieuwe leerlingen
importeren; Afdelingsdeelnames importeren).

The flow: choose the file and the delimiter → label each column (suggestions
preselected, a column can be left out), "Toevoegen als leerling", the mode →
the preview per row (paged: a 5,000-row file is never carried whole) →
"Doorvoeren" (a commit in the background, with progress) → the counts and
"Ongedaan maken". Participations: code + afdeling (+ Pr%, profiel, opleiding,
stamklas) into a project, import only.
"""
from ..app import json_response, page
from ..client import ApiError
from ..filters import IMPORT_ACTION, IMPORT_FIELDS, IMPORT_STATUS
from ..forms import Form

ADMIN = ("admin",)
DELIMITERS = [("", "Automatisch herkennen"), ("tab", "Tab"), (";", "Puntkomma (;)"),
              (",", "Komma (,)")]
MODES = [
    ("import", "Importeren", "Maakt alleen nieuwe gebruikers aan; wie al bestaat, blijft "
                             "zoals hij is."),
    ("update", "Bijwerken", "Werkt bestaande gebruikers bij met de gegevens uit het bestand; "
                            "er komt niemand bij."),
    ("sync", "Synchroniseren", "Doet beide: nieuwe gebruikers worden aangemaakt en bestaande "
                               "bijgewerkt."),
]
KIND_START = {"users": "/importeren", "participations": "/importeren/afdelingsdeelnames"}
ROWS_PER_PAGE = 50
SAMPLE_ROWS = 3
UPLOAD_FIELDS = ("file", "delimiter", "encoding", "kind")
MAPPING_FIELDS = ("columns", "mode", "as_students", "archive_missing", "force", "project_id")


def _projects(ctx):
    result = ctx.get("/projects")
    return result.get("items", []) if isinstance(result, dict) else list(result or [])


# -- step 1: the file ---------------------------------------------------------------------
def _upload_form(ctx, kind, form=None, status=200):
    recent = ctx.get("/imports", params={"kind": kind, "page_size": 5})
    return ctx.render("imports/upload.html", status=status,
                      title="Afdelingsdeelnames importeren" if kind == "participations"
                      else "Leerlingen importeren", kind=kind, form=form or Form(),
                      delimiters=DELIMITERS, recent=recent)


@page("GET", "/importeren", roles=ADMIN)
def start(ctx):
    return _upload_form(ctx, "users")


@page("GET", "/importeren/afdelingsdeelnames", roles=ADMIN)
def start_participations(ctx):
    return _upload_form(ctx, "participations")


@page("POST", "/importeren", roles=ADMIN)
def upload(ctx):
    f = ctx.request.form
    kind = f.get("kind") if f.get("kind") in KIND_START else "users"
    form = Form(values={"delimiter": f.get("delimiter", "")})
    upload_ = ctx.request.files.get("file")
    if upload_ is None or not upload_.filename:
        form.add("file", "Kies het CSV-bestand uit de leerlingenadministratie.")
        return _upload_form(ctx, kind, form, 422)
    data = {"kind": kind}
    if form.values["delimiter"] in ("tab", ";", ","):
        data["delimiter"] = form.values["delimiter"]
    created = form.submit(lambda: ctx.post("/imports", data=data, files={
        "file": (upload_.filename, upload_.stream, upload_.mimetype or "text/csv")}),
        UPLOAD_FIELDS, refusals=(400, 413, 415, 422))
    if form.has_errors:
        return _upload_form(ctx, kind, form, form.status)
    return ctx.redirect(f"/importeren/{created['id']}")


# -- step 2 and 3: label the columns, the preview -------------------------------------------
def _mapping_values(imp):
    """What the labelling form shows: the stored mapping, else the suggestions."""
    stored = imp.get("mapping") or {}
    options = imp.get("options") or {}
    values = {}
    for column in imp["columns"]:
        key = str(column["index"])
        if imp.get("mapping") is not None:
            values[f"kolom-{key}"] = stored.get(key) or ""
        else:
            values[f"kolom-{key}"] = column.get("suggested_field") or ""
    values["mode"] = options.get("mode") or "import"
    values["as_students"] = "1" if options.get("as_students", True) else ""
    values["archive_missing"] = "1" if options.get("archive_missing") else ""
    values["project_id"] = str(options.get("project_id") or "")
    return values


@page("GET", "/importeren/<int:import_id>", roles=ADMIN)
def show(ctx, import_id, form=None, status=200, guard=None):
    imp = ctx.get(f"/imports/{import_id}", params={"preview_rows": 0,
                                                   "sample_rows": SAMPLE_ROWS})
    action = ctx.query("actie")
    if action not in IMPORT_ACTION:
        action = ""
    rows = None
    labelling = imp["status"] in ("uploaded", "previewed")
    if imp["status"] != "uploaded" and imp.get("preview"):
        rows = ctx.get(f"/imports/{import_id}/rows", params={
            "page": ctx.int_query("pagina"), "page_size": ROWS_PER_PAGE,
            **({"action": action} if action else {})})
    form = form or Form(values=_mapping_values(imp))
    projects = _projects(ctx) if imp["kind"] == "participations" and labelling else []
    samples = [[row[i] if i < len(row) else "" for row in imp.get("sample") or []]
               for i in range(len(imp["columns"]))]
    return ctx.render("imports/import.html", status=status,
                      title=f"Import {imp['filename']}", imp=imp, rows=rows, form=form,
                      labelling=labelling, modes=MODES, action=action, guard=guard,
                      projects=projects, samples=samples,
                      fields=[(f, IMPORT_FIELDS.get(f, f)) for f in imp["fields_available"]],
                      start=KIND_START.get(imp["kind"], "/importeren"))


@page("POST", "/importeren/<int:import_id>/kolommen", roles=ADMIN)
def label_columns(ctx, import_id):
    """Label the columns and choose the mode: the preview (PUT /imports/{id}/mapping)."""
    f = ctx.request.form
    form = Form(values={k: f.get(k, "") for k in f.keys() if k != "csrf_token"})
    # the columns as the form has them (one select per column of the file): no
    # need to ask for the import first; the API checks every index
    columns = {key[len("kolom-"):]: (f.get(key) or None) for key in f.keys()
               if key.startswith("kolom-") and key[len("kolom-"):].isdigit()}
    body = {"columns": columns}
    if f.get("kind") != "participations":
        mode = f.get("mode", "import")
        body.update(mode=mode if mode in dict((m[0], m) for m in MODES) else "import",
                    as_students=f.get("as_students") == "1",
                    archive_missing=f.get("archive_missing") == "1",
                    force=f.get("force") == "1")
    else:
        body["mode"] = "import"
        raw = f.get("project_id", "")
        if raw.isdigit():
            body["project_id"] = int(raw)
    try:
        ctx.put(f"/imports/{import_id}/mapping", params={"preview_rows": 0}, json=body)
    except ApiError as exc:
        if exc.status == 409 and exc.code == "archive_guard":
            return show(ctx, import_id, form, 409, guard=exc.problem)
        if exc.status in (400, 409, 422):
            aliases = {f"columns.{key}": f"kolom-{key}" for key in columns}
            known = MAPPING_FIELDS + tuple(aliases.values())
            form.from_api(exc, known, aliases=aliases)
            return show(ctx, import_id, form, exc.status)
        raise
    return ctx.redirect(f"/importeren/{import_id}#voorvertoning")


# -- step 4: Doorvoeren, with progress; Ongedaan maken ---------------------------------------
@page("POST", "/importeren/<int:import_id>/doorvoeren", roles=ADMIN)
def commit(ctx, import_id):
    try:
        ctx.post(f"/imports/{import_id}/commit", params={"async": "true"})
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        ctx.flash(exc.detail, "error")
    return ctx.redirect(f"/importeren/{import_id}")


@page("GET", "/importeren/<int:import_id>/voortgang", roles=ADMIN)
def progress(ctx, import_id):
    """What the page's script polls: status and progress, no personal data."""
    imp = ctx.get(f"/imports/{import_id}", params={"preview_rows": 0})
    return json_response({"status": imp["status"],
                          "label": IMPORT_STATUS.get(imp["status"], imp["status"]),
                          "done": (imp.get("progress") or {}).get("done") or 0,
                          "total": (imp.get("progress") or {}).get("total") or 0})


@page("POST", "/importeren/<int:import_id>/ongedaan-maken", roles=ADMIN)
def undo(ctx, import_id):
    try:
        result = ctx.post(f"/imports/{import_id}/undo")
    except ApiError as exc:
        if exc.status != 409:
            raise
        ctx.flash(exc.detail, "error")
        return ctx.redirect(f"/importeren/{import_id}")
    counts = result.get("counts") or {}
    parts = [f"{counts.get('removed', 0)} verwijderd"]
    if counts.get("restored"):
        parts.append(f"{counts['restored']} teruggezet naar de oude gegevens")
    if counts.get("unarchived"):
        parts.append(f"{counts['unarchived']} uit het archief gehaald")
    message = "De import is ongedaan gemaakt: " + ", ".join(parts) + "."
    if counts.get("skipped"):
        message += (f" {counts['skipped']} overgeslagen: die zijn sinds de import al "
                    "gewijzigd.")
    ctx.flash(message)
    return ctx.redirect(f"/importeren/{import_id}")


# -- the history ----------------------------------------------------------------------------
@page("GET", "/importeren/geschiedenis", roles=ADMIN)
def history(ctx):
    kind = ctx.query("soort")
    params = {"page": ctx.int_query("pagina"), "page_size": 25}
    if kind in KIND_START:
        params["kind"] = kind
    else:
        kind = ""
    result = ctx.get("/imports", params=params)
    return ctx.render("imports/history.html", title="Geschiedenis van de imports",
                      imports=result, kind=kind)

