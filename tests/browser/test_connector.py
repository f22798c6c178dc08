"""zermelo-leerlingen-synchroniseren.txt as the scheduler reads it in the browser:
the portal connector's table of the eight categories (status, the number of
differences, "[n]" behind it for changed exemptions, when the desktop's data
arrived), and per category the differences per student and field, P (portal)
and D (desktop) side by side, with a department filter. The desktop itself
sends its snapshot here (through the API, as the desktop client does)."""
import re

from playwright.sync_api import expect

from tests.browser.conftest import check_a11y, login, screenshot


def setup_project(system, admin, scheduler):
    students = {"9101": ("Daan", "Berg"), "9102": ("Eva", "Smit"), "9103": ("Finn", "Bos"),
                "9104": ("Noor", "Visser")}
    for number, (first, last) in students.items():
        system.ok("POST", "/students", admin, json={
            "student_number": number, "type": "non_transfer", "initials": first[0] + ".",
            "first_name": first, "last_name": last, "home_class": "3h1"})
    project = system.ok("POST", "/projects", admin, json={
        "name": "Rooster 2033-2034", "school_year": "2033-2034", "branch": "Hoofdgebouw"})
    pid = project["id"]
    for code, authority in (("h4", "portal"), ("v4", "desktop")):
        system.ok("POST", f"/projects/{pid}/departments", admin, json={
            "code": code, "year_of_education": 4, "education": code,
            "home_class_authority": authority})
    placed = {"9101": ("h4", 100, "h4a"), "9102": ("h4", 100, "h4a"),
              "9103": ("v4", 100, None), "9104": ("v4", 100, None)}
    ids = {}
    for number, (dept, forecast, klass) in placed.items():
        ids[number] = system.ok("POST", f"/projects/{pid}/participations", admin, json={
            "student_number": number, "department": dept, "forecast": forecast,
            "home_class": klass})["id"]
    system.ok("PUT", f"/participations/{ids['9102']}/package", admin,
              json={"subjects": ["ne", "en"], "exemptions": ["lo"]})
    # the desktop's state: Daan's forecast is 80 there, Eva's package has no exemption,
    # Finn sits in home class v4b (the desktop leads v4), Noor is missing and a
    # student only the desktop knows
    snapshot = {
        "students": [{"student_number": n, "first_name": f, "last_name": last}
                     for n, (f, last) in students.items() if n != "9104"]
        + [{"student_number": "9199", "first_name": "Sem", "last_name": "Desktop"}],
        "participations": [
            {"student_number": "9101", "department": "h4", "forecast": 80, "home_class": "h4a"},
            {"student_number": "9102", "department": "h4", "forecast": 100, "home_class": "h4a"},
            {"student_number": "9103", "department": "v4", "forecast": 100, "home_class": "v4b"},
            {"student_number": "9199", "department": "h4", "forecast": 100}],
        "packages": [{"student_number": "9102", "department": "h4", "subjects": ["ne", "en"],
                      "exemptions": []}],
    }
    r = system.api("PUT", f"/sync/{pid}/snapshot", scheduler, json=snapshot)
    assert r.status_code == 200, r.text
    return project


def test_portalconnector_status_en_verschillen_per_categorie(page, system):
    _inst, admin = system.school("44PC", "Het Connectorcollege", admin="conn")
    password = system.user(admin, "rooster", ["scheduler"], first="Rita", last="Rooster")
    scheduler = system.token("44PC", "rooster", password)
    empty = system.ok("POST", "/projects", admin, json={
        "name": "Rooster 2032-2033", "school_year": "2032-2033", "branch": "Hoofdgebouw"})
    project = setup_project(system, admin, scheduler)

    login(page, "44PC", "rooster", password)
    page.get_by_role("link", name="Portalconnector").first.click()
    expect(page).to_have_url(re.compile(r"/portalconnector$"))
    table = page.locator("#connector-tabel")
    for name in ("Leerlingen", "Persoonsgegevens", "Afdelingsdeelnames", "LWOO",
                 "Stamklasindelingen", "Prognoses", "Pakketten", "Groepsindelingen"):
        expect(table.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(table.locator("tr", has_text="Prognoses")).to_contain_text("Verschillen")
    expect(table.locator("tr", has_text="LWOO")).to_contain_text("OK")
    expect(table.locator("tr", has_text="Pakketten")).to_contain_text("1 [1]")
    expect(table.locator("tr", has_text="Leerlingen").first).to_contain_text("2")
    expect(page.get_by_test_id("snapshot")).to_have_text(
        re.compile(r"\d{2}-\d{2}-\d{4} \d{2}:\d{2}"))
    check_a11y(page)
    screenshot(page, "roostermaker-portalconnector")

    # one category: per student and field, P and D side by side
    table.get_by_role("link", name="Prognoses").click()
    diffs = page.locator("#verschillen-tabel")
    row = diffs.locator("tr", has_text="9101")
    expect(row).to_contain_text("Daan Berg")
    expect(row.locator(".side-p")).to_have_text("100%")
    expect(row.locator(".side-d")).to_have_text("80%")
    expect(row).to_contain_text("naar desktop")
    check_a11y(page)
    screenshot(page, "roostermaker-portalconnector-prognoses")

    # home classes: the desktop leads v4, so that difference goes to the portal
    page.get_by_role("navigation", name="Onderdelen").get_by_role(
        "link", name="Stamklasindelingen").click()
    expect(page.get_by_text("v4: desktop leidend")).to_be_visible()
    finn = page.locator("#verschillen-tabel tr", has_text="9103")
    expect(finn.locator(".side-p")).to_have_text("—")
    expect(finn.locator(".side-d")).to_have_text("v4b")
    expect(finn).to_contain_text("naar portal")
    # the department filter
    page.get_by_label("Afdeling").select_option("h4")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("Geen verschillen in afdeling h4")).to_be_visible()
    check_a11y(page)

    # students: on one side only
    page.get_by_role("navigation", name="Onderdelen").get_by_role(
        "link", name="Leerlingen").click()
    diffs = page.locator("#verschillen-tabel")
    expect(diffs.locator("tr", has_text="9104")).to_contain_text("Naar de desktop (nieuw)")
    expect(diffs.locator("tr", has_text="9199")).to_contain_text("Naar het portal")
    # packages: the exemption
    page.get_by_role("navigation", name="Onderdelen").get_by_role(
        "link", name="Pakketten").click()
    eva = page.locator("#verschillen-tabel tr", has_text="Vrijstellingen")
    expect(eva).to_contain_text("9102")
    expect(eva.locator(".side-p")).to_have_text("lo")
    expect(eva).to_contain_text("vrijstelling")

    # a project the desktop sent nothing for
    page.goto(f"/portalconnector?project={empty['id']}")
    expect(page.get_by_text("nog geen gegevens gestuurd")).to_be_visible()
    assert project["id"] != empty["id"]
    # the admin's role may read it too; a mentor may not
    mentor = system.user(admin, "mentor9", ["mentor"])
    page.get_by_role("button", name="Uitloggen").click()
    login(page, "44PC", "mentor9", mentor)
    response = page.goto("/portalconnector")
    assert response.status == 403
