"""OSO (docs/web.md: OSO, One dossier; the Onderwijs Transparant manual "OSO
importeren POVO"): register the delivery point with the key as Mijn OSO shows
it, the worklist ("Overzicht aangemaakte leerlingen": a BSN by hand or an
Excel list), per row the status, last action, dossier date and the action to
take, the chosen actions run with progress per student; a dossier in readable
Dutch with the official validation messages, its attachments, and making the
report definitive."""
from ..app import PageError, file_response, json_response, page
from ..client import ApiError
from ..filters import date_nl
from ..forms import Form, act

ADMIN = ("admin",)
ACTIONS = [("import", "Importeren"), ("supplement", "Aanvullen"),
           ("overwrite", "Overschrijven"), ("none", "Geen actie")]
ACTION_NL = dict(ACTIONS)
ITEM_STATUS = {"queued": "In de wachtrij", "running": "Wordt opgehaald",
               "applied": "Verwerkt", "failed": "Mislukt", "skipped": "Geen actie"}
WORKLIST_PAGE = 100


def _digits(number):
    if not (number.isascii() and number.isdigit() and 8 <= len(number) <= 9):
        raise PageError(404, "Niet gevonden", "Dit is geen BSN of onderwijsnummer.")
    return number


def status_text(entry):
    """The worklist status in the manual's words, dates as dd-mm-jjjj."""
    if entry.get("status") == "fetched" and entry.get("fetched_at"):
        return f"Opgehaald op {date_nl(entry['fetched_at'])}"
    return entry.get("status_label") or ""


# -- the OSO page -----------------------------------------------------------------------------
@page("GET", "/oso", roles=ADMIN)
def oso(ctx, point_form=None, add_form=None, excel_form=None, status=200,
              excel_result=None):
    config = ctx.get("/oso/configuration")
    points = ctx.get("/oso/delivery-points").get("items", [])
    worklist = ctx.get("/oso/students", params={"page": ctx.int_query("pagina"),
                                                "page_size": WORKLIST_PAGE})
    for entry in worklist["items"]:
        entry["status_text"] = status_text(entry)
    return ctx.render("oso/oso.html", status=status, title="OSO importeren", config=config,
                      point=points[0] if points else None, worklist=worklist,
                      point_form=point_form or Form(), add_form=add_form or Form(),
                      excel_form=excel_form or Form(), actions=ACTIONS,
                      excel_result=excel_result)


@page("POST", "/oso/aanleverpunt", roles=ADMIN)
def register(ctx):
    f = ctx.request.form
    form = Form(values={"number": f.get("number", "").strip()})
    key = f.get("key", "").strip()
    if not form.values["number"]:
        form.add("number", "Vul het nummer van het aanleverpunt in, zoals Mijn OSO het toont.")
    if not key:
        form.add("key", "Plak de sleutel van het aanleverpunt uit Mijn OSO.")
    point = form.submit(lambda: ctx.post("/oso/delivery-points", json={
        "number": form.values["number"], "key": key}), ("number", "key", "brin"),
        refusals=(400, 422), aliases={"brin": "key"})
    if form.has_errors:
        return oso(ctx, point_form=form, status=422)
    ctx.flash(f"Aanleverpunt {point['number']} is geregistreerd voor BRIN "
              f"{point['brin']}. U kunt nu OSO-dossiers ophalen.")
    return ctx.redirect("/oso")


@page("POST", "/oso/leerlingen", roles=ADMIN)
def add_student(ctx):
    form = Form(values={"bsn": ctx.request.form.get("bsn", "").strip()})
    if not form.values["bsn"]:
        form.add("bsn", "Vul het BSN (of onderwijsnummer) van de leerling in.")
    form.submit(lambda: ctx.post("/oso/students", json={"bsn": form.values["bsn"]}), ("bsn",),
                aliases={"onderwijsnummer": "bsn"})
    if form.has_errors:
        return oso(ctx, add_form=form, status=422)
    ctx.flash(f"{form.values['bsn']} staat in het overzicht aangemaakte leerlingen.")
    return ctx.redirect("/oso#werklijst")


@page("POST", "/oso/leerlingen/excel", roles=ADMIN)
def import_excel(ctx):
    form = Form()
    upload = ctx.request.files.get("file")
    if upload is None or not upload.filename:
        form.add("file", "Kies het Excel-bestand (.xlsx) met de kolom BSN.")
        return oso(ctx, excel_form=form, status=422)
    result = form.submit(lambda: ctx.post("/oso/students/import", files={
        "file": (upload.filename, upload.stream, upload.mimetype
                 or "application/octet-stream")}), ("file",), refusals=(400, 413, 415, 422))
    if form.has_errors:
        return oso(ctx, excel_form=form, status=form.status)
    if result.get("errors"):
        return oso(ctx, excel_result=result)
    ctx.flash(f"{result['added']} van de {result['rows']} BSN's uit het Excel-bestand staan in "
              "het overzicht.")
    return ctx.redirect("/oso#werklijst")


@page("POST", "/oso/leerlingen/<number>/verwijderen", roles=ADMIN)
def remove_student(ctx, number):
    return act(ctx, lambda: ctx.delete(f"/oso/students/{_digits(number)}"),
               f"{number} is uit het overzicht verwijderd, met het opgehaalde dossier.",
               "/oso#werklijst")


# -- run the chosen actions, progress per student ------------------------------------------------
def _start(ctx, body):
    try:
        batch = ctx.post("/oso/actions", json=body)
    except ApiError as exc:
        if exc.status not in (400, 409, 422, 503):
            raise
        ctx.flash(exc.detail, "error")
        return ctx.redirect("/oso#werklijst")
    return ctx.redirect(f"/oso/acties/{batch['id']}")


@page("POST", "/oso/uitvoeren", roles=ADMIN)
def run(ctx):
    """Geselecteerde acties uitvoeren: every row's chosen action (Geen actie is
    left out)."""
    f = ctx.request.form
    items = []
    for key in f.keys():
        if key.startswith("actie-"):
            action = f.get(key)
            if action in ACTION_NL and action != "none":
                items.append({"bsn": key[len("actie-"):], "action": action})
    if not items:
        ctx.flash("Kies bij minstens één leerling Importeren, Aanvullen of Overschrijven; bij "
                  "Geen actie gebeurt er niets.", "error")
        return ctx.redirect("/oso#werklijst")
    return _start(ctx, {"items": items})


@page("POST", "/oso/uitvoeren-voor-iedereen", roles=ADMIN)
def run_all(ctx):
    action = ctx.request.form.get("action", "")
    if action not in ACTION_NL:
        ctx.flash("Kies de actie voor alle leerlingen.", "error")
        return ctx.redirect("/oso#werklijst")
    return _start(ctx, {"all": True, "action": action})


@page("GET", "/oso/acties/<int:batch_id>", roles=ADMIN)
def batch(ctx, batch_id):
    result = ctx.get(f"/oso/actions/{batch_id}")
    return ctx.render("oso/batch.html", title="OSO-acties", batch=result,
                      action_names=ACTION_NL, item_status=ITEM_STATUS)


@page("GET", "/oso/acties/<int:batch_id>/voortgang", roles=ADMIN)
def batch_progress(ctx, batch_id):
    """What the page's script polls: status and progress, no personal data."""
    result = ctx.get(f"/oso/actions/{batch_id}")
    label = {"queued": "In de wachtrij", "running": "Bezig", "done": "Klaar"}
    return json_response({"status": result["status"],
                          "label": label.get(result["status"], result["status"]),
                          "done": result["progress"]["done"],
                          "total": result["progress"]["total"]})


# -- one dossier ----------------------------------------------------------------------------------
@page("GET", "/oso/<number>", roles=ADMIN)
def dossier(ctx, number, form=None, status=200, finalize_error=None):
    dossier = ctx.get(f"/oso/dossiers/{_digits(number)}")
    dossier["status_text"] = status_text(dossier)
    return ctx.render("oso/dossier.html", status=status, title="OSO-dossier", d=dossier,
                      data=dossier.get("data") or {}, labels=dossier.get("labels") or {},
                      number=number, form=form or Form(), finalize_error=finalize_error,
                      action_names=ACTION_NL)


@page("POST", "/oso/<number>/definitief", roles=ADMIN)
def finalize(ctx, number):
    if ctx.request.form.get("confirm") != "ja":
        return dossier(ctx, number, status=422, finalize_error=(
            "Bevestig dat het rapport definitief wordt: daarna worden alleen de "
            "eindtoetsgegevens nog aangevuld of overschreven."))
    ctx.post(f"/oso/dossiers/{_digits(number)}/report/finalize")
    ctx.flash("Het rapport (OKR) is definitief. Een volgende keer ophalen werkt alleen de "
              "eindtoetsgegevens nog bij.")
    return ctx.redirect(f"/oso/{number}")


@page("POST", "/oso/<number>/inschrijven", roles=ADMIN)
def enrol(ctx, number):
    form = Form(values={"student_number": ctx.request.form.get("student_number", "").strip()})
    if not form.values["student_number"]:
        form.add("student_number", "Vul het leerlingnummer in dat de leerling krijgt.")
    result = form.submit(lambda: ctx.post(f"/oso/dossiers/{_digits(number)}/enrol", json={
        "student_number": form.values["student_number"]}), ("student_number",))
    if form.has_errors:
        return dossier(ctx, number, form, form.status)
    ctx.flash(f"De leerling is ingeschreven met leerlingnummer "
              f"{result['student']['student_number']}.")
    return ctx.redirect(f"/oso/{number}")


@page("GET", "/oso/<number>/bijlagen/<ref>", roles=ADMIN)
def attachment(ctx, number, ref):
    response = ctx.get(f"/oso/dossiers/{_digits(number)}/attachments/{ref}", raw=True)
    return file_response(response, "bijlage")


@page("GET", "/oso/<number>/dossier.xml", roles=ADMIN)
def source(ctx, number):
    response = ctx.get(f"/oso/dossiers/{_digits(number)}/source.xml", raw=True)
    return file_response(response, "oso-dossier.xml")
