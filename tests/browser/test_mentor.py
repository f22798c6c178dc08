"""The mentor's students in the browser (zermelo-leerlingen-synchroniseren.txt:
"De teamleiders/mentoren zullen in meerdere rondes de prognoses aanpassen"):
the administrator links a mentor to a home class, the mentor sees that class's
students with their participations in next year's project, changes a forecast
and a home class where the portal leads, sees the home class read-only where
the desktop leads, and reads a refusal in words beside the row."""
import re

from playwright.sync_api import expect

from tests.browser.conftest import check_a11y, login, screenshot


def test_mentor_prognoses_en_stamklassen_waar_het_mag(page, system):
    _inst, admin = system.school("46MT", "Het Mentorcollege", admin="mentorbeheer")
    students = {"9201": ("Daan", "3h1"), "9202": ("Eva", "3h1"), "9203": ("Finn", "3h2")}
    for number, (first, klass) in students.items():
        system.ok("POST", "/students", admin, json={
            "student_number": number, "type": "non_transfer", "initials": first[0] + ".",
            "first_name": first, "last_name": "de Vries", "home_class": klass})
    project = system.ok("POST", "/projects", admin, json={
        "name": "Rooster volgend jaar", "school_year": "2034-2035", "branch": "Hoofdgebouw"})
    for code, authority in (("h4", "portal"), ("v4", "desktop")):
        system.ok("POST", f"/projects/{project['id']}/departments", admin, json={
            "code": code, "year_of_education": 4, "education": code,
            "home_class_authority": authority})
    for number, dept, forecast in (("9201", "h4", 60), ("9201", "v4", 40), ("9202", "h4", None),
                                   ("9203", "h4", None)):
        system.ok("POST", f"/projects/{project['id']}/participations", admin, json={
            "student_number": number, "department": dept, "forecast": forecast})
    password = system.user(admin, "mentor1", ["mentor"], first="Mila", last="Mentor")

    # the administrator links the mentor to home class 3h1
    login(page, "46MT", "mentorbeheer", "Beheer-wachtwoord-1")
    page.goto("/gebruikers?filter=employees")
    page.get_by_role("link", name="Stamklassen van mentor1").click()
    check_a11y(page)
    page.get_by_label("Stamklassen").fill("3h1")
    page.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_role("status")).to_contain_text("mentor1 ziet nu de leerlingen van 3h1")
    page.get_by_role("button", name="Uitloggen").click()

    # the mentor: only the students of 3h1, next year's participations
    login(page, "46MT", "mentor1", password)
    page.get_by_role("link", name="Mijn leerlingen").first.click()
    table = page.locator("#mentor-tabel")
    expect(table).to_contain_text("Daan de Vries")
    expect(table).to_contain_text("Eva de Vries")
    expect(table).not_to_contain_text("Finn")
    expect(page.get_by_label("Roosterproject")).to_have_value(str(project["id"]))
    check_a11y(page)
    screenshot(page, "mentor-leerlingen")

    # a forecast and a home class where the portal leads
    page.get_by_label("Prognose Daan de Vries h4").fill("55")
    page.get_by_label("Stamklas Daan de Vries h4").fill("h4a")
    page.get_by_role("button", name="Opslaan: Daan de Vries h4").click()
    expect(page.get_by_role("status")).to_contain_text("Opgeslagen: leerling 9201, afdeling h4")
    expect(page.get_by_label("Prognose Daan de Vries h4")).to_have_value("55")
    placed = {p["department"]: p for p in system.ok(
        "GET", f"/projects/{project['id']}/participations?student_number=9201", admin)["items"]}
    assert (placed["h4"]["forecast"], placed["h4"]["home_class"]) == (55, "h4a")
    # where the desktop leads the home classes: no field, the reason in words
    v4 = table.locator("tr", has_text="v4")
    expect(v4.get_by_label(re.compile("Stamklas"))).to_have_count(0)
    expect(v4).to_contain_text("De desktop leidt de stamklasindeling van v4")

    # a refusal of the rules, beside the row, in the API's words; typed value kept
    page.get_by_label("Prognose Daan de Vries v4").fill("50")
    page.get_by_role("button", name="Opslaan: Daan de Vries v4").click()
    row = page.locator("tr", has=page.get_by_label("Prognose Daan de Vries v4"))
    expect(row.locator(".field-error")).to_contain_text("hoogstens 100%")
    expect(page.get_by_label("Prognose Daan de Vries v4")).to_have_value("50")
    expect(page.get_by_label("Prognose Daan de Vries v4")).to_have_attribute(
        "aria-invalid", "true")
    check_a11y(page)
    screenshot(page, "mentor-weigering")
    page.get_by_label("Prognose Daan de Vries v4").fill("45")
    page.get_by_role("button", name="Opslaan: Daan de Vries v4").click()
    expect(page.get_by_role("status")).to_contain_text("afdeling v4")

    # pages that are not the mentor's
    assert page.goto("/projecten").status == 403
    assert page.goto("/importeren").status == 403
