"""The helpdesk as a person: log in, add a school and its administrator, rotate
the upload code, review a list (its rows, paged), decline one with a reason and
approve one, watching the loading progress update itself."""
import re
import time

from playwright.sync_api import expect

from tests.browser.conftest import HELPDESK_PASSWORD, check_a11y, login, path_of, screenshot
from tests.uploads import xlsxfactory as xf

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def submit_list(system, token, rows, **form):
    data = {"school_type": "vo", "student_type": "potential_transfer", "name": "Janneke Wolff",
            "email": "j.wolff@school.nl", **form}
    r = system.api("POST", "/uploads", token, data=data,
                   files={"file": ("leerlingen.xlsx", xf.make_list(rows), XLSX)})
    assert r.status_code == 202, r.text
    upload_id = r.json()["id"]
    deadline = time.monotonic() + 30
    while system.api("GET", f"/uploads/{upload_id}", token).json()["status"] == "validating":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return upload_id


def test_helpdesk_adds_a_school_and_its_administrator(page, system):
    login(page, "platform", "helpdesk", HELPDESK_PASSWORD)
    expect(page.get_by_role("navigation", name="Hoofdmenu")).to_contain_text("Scholen")
    expect(page.locator(".who")).to_contain_text("Helpdesk")
    check_a11y(page)
    page.get_by_role("link", name="Scholen", exact=True).first.click()
    expect(page).to_have_url(re.compile(r"/scholen$"))

    # a refusal of the API, in its Dutch words beside the field, what was typed kept
    page.get_by_label("Naam").fill("Het Heuvelcollege")
    page.get_by_label("BRIN", exact=True).fill("XYZ")
    page.get_by_label("Schoolsoort").select_option("vo")
    page.get_by_role("button", name="School toevoegen").click()
    brin = page.locator(".field", has=page.get_by_label("BRIN", exact=True))
    expect(brin.locator(".field-error")).to_be_visible()
    expect(page.get_by_label("Naam")).to_have_value("Het Heuvelcollege")
    expect(page.get_by_label("BRIN", exact=True)).to_have_attribute("aria-invalid", "true")
    check_a11y(page)

    page.get_by_label("BRIN", exact=True).fill("21HC")
    page.get_by_role("button", name="School toevoegen").click()
    expect(page).to_have_url(re.compile(r"/scholen/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Het Heuvelcollege")
    expect(page.get_by_role("status")).to_contain_text("toegevoegd")

    # an administrator: a missing last name is refused beside the field
    page.get_by_label("Gebruikersnaam").fill("jwolff")
    page.get_by_label("Voornaam").fill("Janneke")
    page.get_by_label("E-mailadres").fill("j.wolff@heuvelcollege.nl")
    page.get_by_label("Wachtwoord").fill("Beheer-wachtwoord-1")
    page.get_by_role("button", name="Beheerder toevoegen").click()
    last = page.locator(".field", has=page.get_by_label("Achternaam"))
    expect(last.locator(".field-error")).to_be_visible()
    expect(page.get_by_label("Gebruikersnaam")).to_have_value("jwolff")
    expect(page.get_by_label("Wachtwoord")).to_have_value("")  # never echoed back
    page.get_by_label("Achternaam").fill("Wolff")
    page.get_by_label("Wachtwoord").fill("Beheer-wachtwoord-1")
    page.get_by_role("button", name="Beheerder toevoegen").click()
    expect(page.get_by_role("table")).to_contain_text("jwolff")
    expect(page.get_by_role("table")).to_contain_text("Janneke Wolff")

    code = page.get_by_test_id("uploadcode").inner_text()
    page.get_by_role("button", name="Nieuwe uploadcode").click()
    expect(page.get_by_role("status")).to_contain_text("nieuwe uploadcode")
    assert page.get_by_test_id("uploadcode").inner_text() != code
    check_a11y(page)
    screenshot(page, "helpdesk-school")

    page.goto("/scholen")
    expect(page.get_by_role("table")).to_contain_text("21HC")
    screenshot(page, "helpdesk-scholen")

    # the new administrator can log in with what the helpdesk typed
    page.get_by_role("button", name="Uitloggen").click()
    login(page, "21HC", "jwolff", "Beheer-wachtwoord-1")
    expect(page.locator(".who")).to_contain_text("Het Heuvelcollege")
    expect(page.locator(".who")).to_contain_text("Beheerder")


def test_helpdesk_reviews_declines_and_approves(page, system):
    inst, admin = system.school("22RV", "Het Reviewcollege", admin="review")
    rows = [xf.student_row(i) for i in range(1, 61)]
    big = submit_list(system, admin, rows, note="Alle leerlingen van 4 havo")
    small = submit_list(system, admin, [xf.student_row(i) for i in range(200, 203)])

    login(page, "platform", "helpdesk", HELPDESK_PASSWORD, expect=None)
    page.goto("/beoordelen")
    queue = page.get_by_role("table")
    expect(queue).to_contain_text("Het Reviewcollege")
    expect(queue).to_contain_text("Janneke Wolff")
    check_a11y(page)
    screenshot(page, "helpdesk-beoordelen")

    page.locator(f'a[href="/uploads/{big}"]').click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Leerlinglijst {big}")
    expect(page.get_by_text("Alle leerlingen van 4 havo")).to_be_visible()
    students = page.get_by_role("table").last
    expect(students).to_contain_text(rows[0]["Leerlingnummer"])
    expect(students).to_contain_text("*****" + rows[0]["BSN"][-4:])
    assert rows[0]["BSN"] not in page.content()
    expect(page.get_by_text("Pagina 1 van 2").first).to_be_visible()
    check_a11y(page)
    screenshot(page, "helpdesk-lijst")
    page.get_by_role("link", name="Volgende").click()
    expect(page.get_by_role("table").last).to_contain_text(rows[59]["Leerlingnummer"])
    assert "pagina=2" in path_of(page)

    # decline: the reason is required, then the list is declined
    page.goto(f"/uploads/{small}")
    page.get_by_role("button", name="Afwijzen").click()
    expect(page.locator(".field", has=page.get_by_label("Reden")).locator(".field-error")) \
        .to_be_visible()
    page.get_by_label("Reden").fill("Dit is een oude lijst; stuur de lijst van dit jaar.")
    page.get_by_role("button", name="Afwijzen").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Afgewezen")
    expect(page.get_by_text("Dit is een oude lijst")).to_be_visible()

    # approve with the project choice; the progress shows until it is loaded
    page.goto(f"/uploads/{big}")
    project = page.get_by_label("Project")
    expect(project).to_be_visible()
    project.select_option("")
    page.get_by_role("button", name="Goedkeuren").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        re.compile("Wordt ingeladen|Ingeladen"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ingeladen", timeout=30_000)
    expect(page.locator(".facts")).to_contain_text("60")
    check_a11y(page)
    total = system.api("GET", "/students?page_size=1", admin).json()["total"]
    assert total == 60


def test_loading_progress_updates_itself(page, system):
    """Approving a large list: the page shows the loading progress, polls it
    and turns into the result without the person reloading."""
    inst, admin = system.school("23PR", "Het Voortgangcollege", admin="voortgang")
    r = system.api("POST", "/uploads", admin, data={
        "school_type": "vo", "student_type": "non_transfer", "name": "Piet",
        "email": "piet@school.nl"},
        files={"file": ("groot.xlsx", xf.make_big_list(4000, student_type="non_transfer"), XLSX)})
    assert r.status_code == 202, r.text
    upload_id = r.json()["id"]
    deadline = time.monotonic() + 60
    while system.api("GET", f"/uploads/{upload_id}", admin).json()["status"] == "validating":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    login(page, "platform", "helpdesk", HELPDESK_PASSWORD, expect=None)
    page.goto(f"/uploads/{upload_id}")
    page.get_by_role("button", name="Goedkeuren").click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("Wordt ingeladen")
    expect(page.locator("progress")).to_be_visible()
    check_a11y(page)
    screenshot(page, "helpdesk-inladen")
    # no reload by the test: the page's script polls and shows the result
    expect(heading).to_contain_text("Ingeladen", timeout=90_000)
    expect(heading).not_to_contain_text("Wordt")
