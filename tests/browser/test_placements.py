"""Placements as a school administrator does them in the browser, in the words
of the Zermelo manuals: a new student gets a participation ("Nieuwe leerling
een afdelingsdeelname geven": select the project, Toevoegen, fill in the
fields, Toevoegen), who leads the home classes per department (Onderwijs >
Afdelingen), a student changes department with the question what happens to
the package ("Leerling wijzigt van afdeling"), a home class changed where the
portal leads and refused where the desktop leads, learning paths and the
placements export, and a participation removed ("Afdelingsdeelname
verwijderen": the student stays a user)."""
import csv
import io
import re

from playwright.sync_api import expect

from tests.browser.conftest import check_a11y, login, screenshot


def test_projecten_afdelingen_toevoegen_wijzigen_en_exporteren(page, system):
    _inst, admin = system.school("43PL", "Het Plaatsingscollege", admin="plaats")
    for number, first in (("9001", "Daan"), ("9002", "Eva")):
        system.ok("POST", "/students", admin, json={
            "student_number": number, "type": "non_transfer", "initials": first[0] + ".",
            "first_name": first, "last_name": "Visser", "home_class": "3h1"})
    login(page, "43PL", "plaats", "Beheer-wachtwoord-1")
    page.get_by_role("link", name="Projecten").first.click()
    check_a11y(page)
    # a schedule project with its departments
    page.get_by_label("Naam").fill("Rooster 2032-2033")
    page.get_by_label("Schooljaar").fill("2032-2033")
    page.get_by_label("Vestiging").fill("Hoofdgebouw")
    page.get_by_role("button", name="Project toevoegen").click()
    expect(page.get_by_role("status")).to_contain_text("is aangemaakt")
    project_id = int(re.search(r"/projecten/(\d+)", page.url).group(1))
    for code, education, authority in (("h4", "havo", "portal"), ("v4", "vwo", "desktop")):
        page.locator("summary", has_text="Afdeling toevoegen").click()
        page.get_by_label("Code", exact=True).fill(code)
        page.get_by_label("Leerjaar").fill("4")
        page.get_by_label("Opleiding", exact=True).fill(education)
        page.get_by_label("Stamklasindeling", exact=True).select_option(authority)
        page.get_by_role("button", name="Afdeling toevoegen").click()
        expect(page.get_by_role("status")).to_contain_text(f"Afdeling {code} is toegevoegd")
    departments = page.get_by_role("table", name=re.compile("Afdelingen"))
    expect(departments.get_by_label("Stamklasindeling v4")).to_have_value("desktop")

    # Toevoegen: the student gets a participation
    page.get_by_role("link", name="Toevoegen", exact=True).click()
    check_a11y(page)
    page.get_by_label("Leerlingnummer").fill("9001")
    page.get_by_label("Afdeling", exact=True).select_option("h4")
    page.get_by_label("Prognose (Pr%)").fill("60")
    page.get_by_label("Stamklas", exact=True).fill("h4a")
    page.get_by_role("button", name="Toevoegen").click()
    expect(page.get_by_role("status")).to_contain_text("9001 is geplaatst in afdeling h4")
    # a second department: both forecasts together at most 100 (the API says so)
    page.get_by_role("link", name="Toevoegen", exact=True).click()
    page.get_by_label("Leerlingnummer").fill("9001")
    page.get_by_label("Afdeling", exact=True).select_option("v4")
    page.get_by_label("Prognose (Pr%)").fill("50")
    page.get_by_role("button", name="Toevoegen").click()
    forecast = page.locator(".field", has=page.get_by_label("Prognose (Pr%)"))
    expect(forecast.locator(".field-error")).to_contain_text("100")
    expect(page.get_by_label("Leerlingnummer")).to_have_value("9001")
    check_a11y(page)
    page.get_by_label("Prognose (Pr%)").fill("40")
    page.get_by_role("button", name="Toevoegen").click()
    expect(page.get_by_role("status")).to_contain_text("geplaatst in afdeling v4")
    system.ok("POST", f"/projects/{project_id}/participations", admin, json={
        "student_number": "9002", "department": "h4", "home_class": "h4b"})

    # the participations with filters
    page.goto(f"/projecten/{project_id}")
    table = page.locator("#deelnames-tabel")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table.locator("tr", has_text="v4")).to_contain_text("Daan Visser")
    check_a11y(page)
    screenshot(page, "school-project")
    page.get_by_label("Afdeling", exact=True).select_option("h4")
    page.get_by_role("button", name="Zoek").click()
    expect(table.locator("tbody tr")).to_have_count(2)
    page.get_by_label("Stamklas", exact=True).fill("H4B")
    page.get_by_role("button", name="Zoek").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("Eva Visser")

    # Leerling wijzigt van afdeling: the package, keep or wipe
    part = system.ok("GET", f"/projects/{project_id}/participations?student_number=9002",
                     admin)["items"][0]
    system.ok("PUT", f"/participations/{part['id']}/package", admin,
              json={"subjects": ["ne", "en", "wi"], "exemptions": ["lo"]})
    page.get_by_role("link", name="Wijzigen: 9002 in h4").click()
    expect(page.get_by_text("De leerling heeft een keuzepakket (ne, en, wi")).to_be_visible()
    page.get_by_label("Afdeling", exact=True).select_option("v4")
    page.get_by_role("button", name="Opslaan").click()
    choice = page.locator("fieldset", has_text="Keuzepakket")
    expect(choice.locator(".field-error")).to_contain_text("behoudt of wist")
    check_a11y(page)
    screenshot(page, "school-afdeling-wijzigen")
    page.get_by_label("Pakket behouden").check()
    page.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_role("status")).to_contain_text("zit nu in afdeling v4")
    expect(page.get_by_role("status")).to_contain_text("behouden")
    assert system.ok("GET", f"/participations/{part['id']}/package", admin)["subjects"] == [
        "ne", "en", "wi"]
    # in v4 the desktop leads the home classes: the field says so
    expect(page.get_by_label("Stamklas", exact=True)).to_have_attribute("readonly", "")

    # who leads the home classes of h4 changes: from now on the desktop
    page.goto(f"/projecten/{project_id}")
    page.get_by_label("Stamklasindeling h4").select_option("desktop")
    page.get_by_role("button", name="Wijzigen afdeling h4").click()
    expect(page.get_by_role("status")).to_contain_text("door de desktop")
    dept = system.ok("GET", f"/projects/{project_id}/departments", admin)["items"]
    assert {d["code"]: d["home_class_authority"] for d in dept}["h4"] == "desktop"
    page.get_by_label("Stamklasindeling h4").select_option("portal")
    page.get_by_role("button", name="Wijzigen afdeling h4").click()

    # learning paths, and the export with them
    page.get_by_role("link", name="Leerpaden van h4").click()
    check_a11y(page)
    page.get_by_label("Code leerpad 1", exact=True).fill("HAVO-NT")
    page.get_by_label("Naam leerpad 1").fill("havo natuur en techniek")
    page.get_by_role("button", name="Leerpaden opslaan").click()
    element = page.locator("td", has=page.get_by_label("Elementcode leerpad 1"))
    expect(element.locator(".field-error")).to_be_visible()
    expect(page.get_by_label("Code leerpad 1", exact=True)).to_have_value("HAVO-NT")
    page.get_by_label("Elementcode leerpad 1").fill("2773")
    page.get_by_role("button", name="Leerpaden opslaan").click()
    expect(page.get_by_role("status")).to_contain_text("leerpaden van afdeling h4")
    h4 = system.ok("GET", f"/projects/{project_id}/participations?student_number=9001"
                   "&department=h4", admin)["items"][0]
    page.goto(f"/projecten/{project_id}/deelnames/{h4['id']}")
    page.get_by_label("Leerpad").fill("HAVO-NT")
    page.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_role("status")).to_contain_text("opgeslagen")
    page.goto(f"/projecten/{project_id}")
    with page.expect_download() as info:
        page.get_by_role("link", name="Plaatsingen exporteren (CSV)").click()
    text = open(info.value.path(), encoding="utf-8").read()
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert any(r[:2] == ["9001", "h4"] and "HAVO-NT" in r and "2773" in r for r in rows), rows

    # Afdelingsdeelname verwijderen: the student stays a user
    page.goto(f"/projecten/{project_id}/deelnames/{h4['id']}")
    page.get_by_role("button", name="Verwijderen").click()
    expect(page.get_by_role("status")).to_contain_text("Vink aan")
    page.get_by_label(re.compile("Ja, verwijder de deelname")).check()
    page.get_by_role("button", name="Verwijderen").click()
    expect(page.get_by_role("status")).to_contain_text("blijft als gebruiker actief")
    assert system.ok("GET", "/users/9001", admin)["archived"] is False
    left = system.ok("GET", f"/projects/{project_id}/participations?student_number=9001",
                     admin)["items"]
    assert [p["department"] for p in left] == ["v4"]
