"""A school administrator as a person: the student-list wizard (steps 1–5,
errors per row and column, the report, the corrected file), my lists, the
students overview with search and filters, one student (BSN masked and
revealed, leaving with a date), users (archive, restore) and a student added
by hand."""
import datetime as dt
import io
import re
import time

from openpyxl import load_workbook
from playwright.sync_api import expect

from services.uploads import columns as colspec
from tests.browser.conftest import check_a11y, login, path_of, screenshot
from tests.browser.test_helpdesk import submit_list
from tests.uploads import xlsxfactory as xf


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def test_wizard_errors_report_and_corrected_file(page, system, tmp_path):
    system.school("31WZ", "Het Wizardcollege", admin="wizard")
    login(page, "31WZ", "wizard", "Beheer-wachtwoord-1")
    page.get_by_role("link", name="Leerlinglijst opsturen").first.click()
    expect(page).to_have_url(re.compile(r"/leerlinglijst$"))
    # step 1 is filled in: the school's type
    expect(page.get_by_label("Schoolsoort")).to_have_value("Voortgezet Onderwijs")
    check_a11y(page)
    # step 2
    page.get_by_role("button", name="Potentiële overstapper").click()
    expect(page.get_by_role("button", name="Potentiële overstapper")) \
        .to_have_attribute("aria-pressed", "true")
    # step 3: the template
    with page.expect_download() as info:
        page.get_by_role("link", name="Download").click()
    assert info.value.suggested_filename.endswith(".xlsx")
    template = load_workbook(io.BytesIO(open(info.value.path(), "rb").read()))[colspec.SHEET_TITLE]
    assert [c.value for c in template[1] if c.value] == \
        [c.title for c in colspec.columns("vo", "potential_transfer")]
    check_a11y(page)
    screenshot(page, "school-leerlinglijst-stappen")

    # step 4: a file with errors; a missing e-mail address is refused first
    rows = [xf.student_row(i) for i in range(1, 6)]
    rows[1]["BSN"] = "123456789"
    rows[3]["Geslacht"] = "Q"
    bad = write(tmp_path, "leerlingen.xlsx", xf.make_list(rows))
    expect(page.get_by_label("Uw naam")).to_have_value("Janneke Wolff")
    page.get_by_label("Toelichting").fill("Leerlingen 4 havo")
    page.get_by_label("Leerlingbestand").set_input_files(bad)
    page.get_by_role("button", name="Opsturen").click()
    email = page.locator(".field", has=page.get_by_label("Uw e-mailadres"))
    expect(email.locator(".field-error")).to_be_visible()
    expect(page.get_by_label("Toelichting")).to_have_value("Leerlingen 4 havo")
    page.get_by_label("Uw e-mailadres").fill("j.wolff@wizardcollege.nl")
    page.get_by_label("Leerlingbestand").set_input_files(bad)
    page.get_by_role("button", name="Opsturen").click()

    # step 5: the verdict, errors per row and column
    expect(page.get_by_text("De lijst bevat fouten")).to_be_visible()
    errors = page.get_by_role("table")
    expect(errors).to_contain_text("BSN")
    expect(errors.locator("tr", has_text="Geslacht")).to_contain_text("5")
    expect(errors.locator("tr", has_text="BSN").first).to_contain_text("3")
    check_a11y(page)
    screenshot(page, "school-leerlinglijst-fouten")
    with page.expect_download() as info:
        page.get_by_role("link", name="Rapport downloaden").click()
    report = load_workbook(io.BytesIO(open(info.value.path(), "rb").read()))
    assert "Fouten" in report.sheetnames

    # the corrected file, sent from the verdict
    rows[1]["BSN"] = xf.bsns(1, start=30_000_000)[0]
    rows[3]["Geslacht"] = "V"
    good = write(tmp_path, "leerlingen-verbeterd.xlsx", xf.make_list(rows))
    page.get_by_label("Leerlingbestand").set_input_files(good)
    page.get_by_role("button", name="Opsturen").click()
    expect(page.get_by_text("Leerlinglijst succesvol opgestuurd")).to_be_visible()
    check_a11y(page)
    screenshot(page, "school-leerlinglijst-gelukt")
    page.get_by_role("link", name="Nog een lijst opsturen").click()
    expect(page).to_have_url(re.compile(r"/leerlinglijst$"))

    # my lists: both, with their status
    page.get_by_role("link", name="Mijn lijsten").first.click()
    table = page.get_by_role("table")
    expect(table).to_contain_text("leerlingen-verbeterd.xlsx")
    expect(table.locator("tr", has_text="leerlingen.xlsx").last).to_contain_text("Afgekeurd")
    expect(table).to_contain_text("Wacht op beoordeling")
    check_a11y(page)
    screenshot(page, "school-mijn-lijsten")


def test_students_overview_student_and_leaving(page, system):
    inst, admin = system.school("32LL", "Het Leerlingcollege", admin="leerling")
    rows = [xf.student_row(i) for i in range(1, 61)]
    upload_id = submit_list(system, admin, rows)
    r = system.api("POST", f"/uploads/{upload_id}/approve", system.helpdesk, json={})
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 60
    while system.api("GET", f"/uploads/{upload_id}", admin).json()["status"] != "loaded":
        assert time.monotonic() < deadline
        time.sleep(0.3)

    havo = [r for r in rows if r["Leerweg"] == "havo"]
    student = havo[0]
    # a placement in a schedule project, for the student's page
    project = system.api("POST", "/projects", admin, json={
        "name": "Rooster 2026-2027", "school_year": "2026-2027", "branch": "Hoofdgebouw"}).json()
    r = system.api("POST", f"/projects/{project['id']}/departments", admin, json={
        "code": "h4", "year_of_education": 4, "education": "havo",
        "home_class_authority": "portal"})
    assert r.status_code == 201, r.text
    r = system.api("POST", f"/projects/{project['id']}/participations", admin, json={
        "student_number": student["Leerlingnummer"], "department": "h4", "forecast": 80,
        "home_class": "4h1"})
    assert r.status_code == 201, r.text

    login(page, "32LL", "leerling", "Beheer-wachtwoord-1")
    page.get_by_role("link", name="Leerlingen", exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("60")
    expect(page.get_by_text("Pagina 1 van 2")).to_be_visible()
    check_a11y(page)
    screenshot(page, "school-leerlingen")
    page.get_by_role("link", name="Volgende").click()
    expect(page.get_by_role("table")).to_contain_text(rows[59]["Leerlingnummer"])

    # search by name, then by BSN; filters; reset
    page.get_by_label("Zoeken").fill(rows[4]["Voornaam"])
    page.get_by_role("button", name="Zoek").click()
    expect(page.get_by_role("table")).to_contain_text(rows[4]["Leerlingnummer"])
    page.get_by_label("Zoeken").fill(rows[7]["BSN"])
    page.get_by_role("button", name="Zoek").click()
    expect(page.get_by_role("table").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_role("table")).to_contain_text(rows[7]["Leerlingnummer"])
    page.get_by_role("button", name="Reset").click()
    expect(page).to_have_url(re.compile(r"/leerlingen$"))
    page.get_by_label("Klas").fill("4h2")
    page.get_by_label("Leerjaar").select_option("2")
    page.get_by_role("button", name="Zoek").click()
    wanted = [r for r in rows if r["Klas"] == "4h2" and r["Leerjaar"] == 2]
    expect(page.get_by_role("table").locator("tbody tr")).to_have_count(len(wanted))
    expect(page.get_by_label("Klas")).to_have_value("4h2")
    page.get_by_label("Klas").fill("")
    page.get_by_label("Leerjaar").select_option("")
    page.get_by_label("Leerweg").select_option("havo")
    page.get_by_label("Geregistreerd").select_option("false")
    page.get_by_role("button", name="Zoek").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"({len(havo)})")

    # one student: BSN masked, revealed on request; the placement
    page.get_by_role("link", name=student["Leerlingnummer"]).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(student["Voornaam"])
    bsn = page.get_by_test_id("bsn")
    expect(bsn).to_have_text("*****" + student["BSN"][-4:])
    assert student["BSN"] not in page.content()
    placements = page.get_by_role("table")
    expect(placements).to_contain_text("Rooster 2026-2027")
    expect(placements).to_contain_text("h4")
    expect(placements).to_contain_text("80%")
    check_a11y(page)
    screenshot(page, "school-leerling")
    page.get_by_role("button", name="BSN tonen").click()
    expect(page.get_by_test_id("bsn")).to_have_text(student["BSN"])
    assert student["BSN"] not in page.url
    audit = system.api("GET", f"/audit/bsn?student_number={student['Leerlingnummer']}", admin)
    assert audit.status_code == 200 and audit.json()["total"] >= 1

    # leaving: a date and a confirmation are asked
    page.get_by_role("button", name="Leerling verlaat school").click()
    page.get_by_label("Datum van vertrek").fill("31-13-2026")
    page.get_by_role("button", name="Leerling verlaat school").click()
    date = page.locator(".field", has=page.get_by_label("Datum van vertrek"))
    expect(date.locator(".field-error")).to_contain_text("dd-mm-jjjj")
    expect(page.locator("#confirm-fout")).to_be_visible()
    expect(page.get_by_label("Datum van vertrek")).to_have_value("31-13-2026")
    check_a11y(page)
    # a day in the future is planned: shown as leaving, and it can be withdrawn
    later = (dt.date.today() + dt.timedelta(days=30)).strftime("%d-%m-%Y")
    page.get_by_label("Datum van vertrek").fill(later)
    page.get_by_label(re.compile("verlaat de school")).check()
    page.get_by_role("button", name="Leerling verlaat school").click()
    expect(page.get_by_role("status")).to_contain_text(f"gepland op {later}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Vertrekt {later}")
    expect(page.get_by_test_id("vertrekdatum")).to_have_text(later)
    check_a11y(page)
    page.get_by_role("button", name="Vertrek intrekken").click()
    expect(page.get_by_role("status")).to_contain_text("ingetrokken")
    # a day in the past is carried out now
    page.get_by_role("button", name="Leerling verlaat school").click()
    page.get_by_label("Datum van vertrek").fill("31-07-2026")
    page.get_by_label(re.compile("verlaat de school")).check()
    page.get_by_role("button", name="Leerling verlaat school").click()
    expect(page.get_by_role("status")).to_contain_text("verlaten op 31-07-2026")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Vertrokken")
    expect(page.get_by_test_id("vertrekdatum")).to_have_text("31-07-2026")


def test_users_archive_and_restore(page, system):
    inst, admin = system.school("33GB", "Het Gebruikerscollege", admin="gebruik")
    for i, code in enumerate(("401", "402")):
        r = system.api("POST", "/users", admin, json={
            "code": code, "first_name": ["Daan", "Emma"][i], "last_name": "Berg",
            "is_student": True, "password": "Leerling-wachtwoord-1"})
        assert r.status_code == 201, r.text
    login(page, "33GB", "gebruik", "Beheer-wachtwoord-1")
    page.get_by_role("link", name="Gebruikers").first.click()
    table = page.get_by_role("table")
    expect(table).to_contain_text("Daan Berg")
    expect(table).to_contain_text("gebruik")
    check_a11y(page)
    screenshot(page, "school-gebruikers")
    page.get_by_role("navigation", name="Filter gebruikers").get_by_role(
        "link", name="Leerlingen").click()
    expect(table.locator("tbody tr")).to_have_count(2)
    page.get_by_role("button", name="Archiveren: 401").click()
    expect(page.get_by_role("status")).to_contain_text("401 is gearchiveerd")
    assert "filter=students" in path_of(page)
    assert system.http.post(system.gateway + "/api/v1/auth/token", json={
        "institution": "33GB", "code": "401", "password": "Leerling-wachtwoord-1"},
        timeout=30).status_code == 401
    page.get_by_role("navigation", name="Filter gebruikers").get_by_role(
        "link", name="Gearchiveerd").click()
    expect(page.get_by_role("table").locator("tbody tr")).to_have_count(1)
    page.get_by_role("button", name="Terugzetten: 401").click()
    expect(page.get_by_role("status")).to_contain_text("teruggezet")
    page.get_by_role("navigation", name="Filter gebruikers").get_by_role(
        "link", name="Alle").click()
    page.get_by_label("Zoeken").fill("emma")
    page.get_by_role("button", name="Zoek").click()
    expect(page.get_by_role("table").locator("tbody tr")).to_have_count(1)


def test_student_by_hand(page, system):
    system.school("34NL", "Het Handcollege", admin="hand")
    login(page, "34NL", "hand", "Beheer-wachtwoord-1")
    page.goto("/leerlingen")
    page.get_by_role("link", name="Nieuwe leerling").click()
    check_a11y(page)
    page.get_by_role("button", name="Potentiële overstapper").click()
    page.get_by_label("Leerlingnummer").fill("5001")
    page.get_by_label("Voorletters").fill("S.")
    page.get_by_label("Voornaam").fill("Sanne")
    page.get_by_label("Achternaam").fill("de Boer")
    page.get_by_label("Geboortedatum").fill("14-03-2011")
    page.get_by_label("Klas").fill("4h1")
    page.get_by_label("Leerjaar").select_option("4")
    page.get_by_label("Leerweg").select_option("havo")
    # no BSN and no onderwijsnummer: refused by the API beside the BSN field
    page.get_by_role("button", name="Opslaan").click()
    field = page.locator(".field", has=page.get_by_label("BSN", exact=True))
    expect(field.locator(".field-error")).to_be_visible()
    expect(page.get_by_label("Voornaam")).to_have_value("Sanne")
    expect(page.get_by_label("Geboortedatum")).to_have_value("14-03-2011")
    expect(page.get_by_label("Leerjaar")).to_have_value("4")
    check_a11y(page)
    screenshot(page, "school-nieuwe-leerling")
    page.get_by_label("BSN", exact=True).fill("123456789")
    page.get_by_role("button", name="Opslaan").click()
    expect(field.locator(".field-error")).to_be_visible()
    # the onderwijsnummer instead of a BSN
    page.get_by_label("BSN", exact=True).fill("")
    page.get_by_label("Onderwijsnummer").fill(xf.onderwijsnummer(3))
    page.get_by_role("button", name="Opslaan").click()
    expect(page).to_have_url(re.compile(r"/leerlingen/5001$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sanne de Boer")
    expect(page.locator(".facts")).to_contain_text("14-03-2011")
