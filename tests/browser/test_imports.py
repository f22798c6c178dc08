"""zermelo-nieuwe-leerlingen.txt as a school administrator does it in the browser:
"Nieuwe leerlingen importeren uit de administratie" (choose the file and the
delimiter, label the column headers, 'Toevoegen als leerling', import / update /
synchronise, the preview per row, Doorvoeren with its progress, the counts,
Ongedaan maken; the safety limit of archiving) and "Afdelingsdeelnames
importeren" (code + afdeling + Pr%, import only: a student placed already is
skipped), then the import history."""
import re

from playwright.sync_api import expect

from tests.browser.conftest import check_a11y, login, screenshot


def export(rows, header=("leerlingnummer", "voornaam", "tussenvoegsel", "achternaam",
                         "geslacht", "e-mailadres", "klas"), sep="\t"):
    return (sep.join(header) + "\n" + "".join(sep.join(r) + "\n" for r in rows)).encode("utf-8")


def student_rows(n, start):
    return [(str(start + i), f"Leerling{i}", "van" if i % 7 == 0 else "", f"Achter{i}",
             "V" if i % 2 else "M", f"l{start + i}@school.nl", "1a") for i in range(n)]


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def count(system, token, **query):
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    return system.ok("GET", f"/users?page_size=1&{qs}", token)["total"]


def test_nieuwe_leerlingen_importeren_labelen_voorvertoning_doorvoeren_ongedaan(
        page, system, tmp_path):
    _inst, admin = system.school("41IM", "Het Importcollege", admin="import")
    login(page, "41IM", "import", "Beheer-wachtwoord-1")
    # Beheer > Gebruikers > Importeren: the file and the delimiter
    page.get_by_role("link", name="Importeren").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Leerlingen importeren")
    check_a11y(page)
    rows = student_rows(1200, 700000) + [("12x", "Fout", "", "Code", "M", "", "1a")]
    page.get_by_label("Bestand", exact=True).set_input_files(
        write(tmp_path, "export.csv", export(rows)))
    page.get_by_label("Scheidingsteken").select_option("tab")
    page.get_by_role("button", name="Bestand inlezen").click()

    # label the column headers: suggestions preselected, a column can be left out
    expect(page).to_have_url(re.compile(r"/importeren/\d+$"))
    expect(page.get_by_label("Gegeven in kolom leerlingnummer")).to_have_value("code")
    expect(page.get_by_label("Gegeven in kolom voornaam")).to_have_value("first_name")
    expect(page.get_by_label("Gegeven in kolom e-mailadres")).to_have_value("email")
    expect(page.get_by_label("Gegeven in kolom klas")).to_have_value("")
    expect(page.get_by_role("row", name=re.compile("voornaam"))).to_contain_text("Leerling0")
    page.get_by_label("Gegeven in kolom geslacht").select_option("")
    expect(page.get_by_label("Toevoegen als leerling")).to_be_checked()
    page.get_by_label("Importeren", exact=True).check()
    expect(page.get_by_text("Maakt alleen nieuwe gebruikers aan")).to_be_visible()
    check_a11y(page)
    screenshot(page, "school-importeren-kolommen")
    page.get_by_role("button", name="Voorvertoning").click()

    # the preview per row: the action and the fields that change; paged
    tabs = page.get_by_role("navigation", name="Regels per actie")
    expect(tabs).to_contain_text("Nieuw (1.200)")
    expect(tabs).to_contain_text("Fout (1)")
    table = page.locator("#voorvertoning-tabel")
    first = table.locator("tr", has_text="700000")
    expect(first).to_contain_text("Nieuw")
    expect(first).to_contain_text("Voornaam: Leerling0")
    expect(first).not_to_contain_text("Geslacht")
    expect(page.get_by_text("Pagina 1 van 25")).to_be_visible()
    check_a11y(page)
    screenshot(page, "school-importeren-voorvertoning")
    tabs.get_by_role("link", name=re.compile("Fout")).click()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("alleen cijfers")

    # Doorvoeren: progress instead of one long wait, then the counts
    page.get_by_role("button", name="Doorvoeren").click()
    progress = page.locator(".progress-block")
    expect(progress).to_contain_text("Wordt doorgevoerd")
    expect(progress.locator("progress")).to_be_visible()
    check_a11y(page)
    expect(page.get_by_role("heading", name="Resultaat")).to_be_visible(timeout=120_000)
    result = page.get_by_test_id("resultaat")
    expect(result.locator("div", has_text="Aangemaakt")).to_contain_text("1.200")
    expect(result.locator("div", has_text="Niet verwerkt")).to_contain_text("1")
    check_a11y(page)
    screenshot(page, "school-importeren-resultaat")
    assert count(system, admin, filter="students") == 1200

    # bijwerken: old -> new per field; then undone
    page.get_by_role("link", name="Importeren").first.click()
    changed = [("700001", "Leerling1", "", "Achter1", "V", "nieuw@school.nl", "1a"),
               ("700002", "Leerling2", "", "Achter2", "", "l700002@school.nl", "1a")]
    page.get_by_label("Bestand", exact=True).set_input_files(
        write(tmp_path, "bijwerken.csv", export(changed, sep=";")))
    page.get_by_role("button", name="Bestand inlezen").click()
    page.get_by_label("Bijwerken").check()
    page.get_by_role("button", name="Voorvertoning").click()
    row = page.locator("#voorvertoning-tabel tr", has_text="700001")
    expect(row).to_contain_text("Bijwerken")
    email = row.locator("li", has_text="E-mailadres")
    expect(email.locator(".old")).to_have_text("l700001@school.nl")
    expect(email.locator(".new")).to_have_text("nieuw@school.nl")
    # geslacht was left out of the first import: now it is filled in
    expect(row.locator("li", has_text="Geslacht").locator(".old")).to_have_text("(leeg)")
    expect(page.locator("#voorvertoning-tabel tr", has_text="700002")).to_contain_text(
        "Ongewijzigd")
    page.get_by_role("button", name="Doorvoeren").click()
    expect(page.get_by_role("heading", name="Resultaat")).to_be_visible(timeout=60_000)
    assert system.ok("GET", "/users/700001", admin)["email"] == "nieuw@school.nl"
    page.get_by_role("button", name="Ongedaan maken").click()
    expect(page.get_by_role("status")).to_contain_text("ongedaan gemaakt")
    expect(page.get_by_text("Ongedaan gemaakt op")).to_be_visible()
    assert system.ok("GET", "/users/700001", admin)["email"] == "l700001@school.nl"

    # synchroniseren with 'Ontbrekende gebruikers archiveren': the safety limit
    page.get_by_role("link", name="Importeren").first.click()
    page.get_by_label("Bestand", exact=True).set_input_files(
        write(tmp_path, "klein.csv", export(student_rows(5, 700000))))
    page.get_by_role("button", name="Bestand inlezen").click()
    page.get_by_label("Synchroniseren").check()
    page.get_by_label("Ontbrekende gebruikers archiveren").check()
    page.get_by_role("button", name="Voorvertoning").click()
    expect(page.get_by_role("alert").first).to_contain_text("Veiligheidsgrens")
    expect(page.get_by_role("alert").first).to_contain_text("meer dan 10%")
    expect(page.get_by_label("Ontbrekende gebruikers archiveren")).to_be_checked()
    check_a11y(page)
    screenshot(page, "school-importeren-veiligheidsgrens")
    page.get_by_label(re.compile("Ja, archiveer toch")).check()
    page.get_by_role("button", name="Voorvertoning").click()
    expect(page.get_by_role("navigation", name="Regels per actie")).to_contain_text(
        "Archiveren (1.195)")
    assert count(system, admin, filter="archived") == 0  # a preview changes nothing

    # the history: who, when, what, counts, status; it opens the import
    page.get_by_role("link", name="Geschiedenis").first.click()
    history = page.get_by_role("table")
    expect(history.locator("tbody tr")).to_have_count(3)
    done = history.locator("tr", has_text="export.csv")
    expect(done).to_contain_text("Importeren, als leerling")
    expect(done).to_contain_text("1.200 nieuw")
    expect(done).to_contain_text("Doorgevoerd")
    expect(history.locator("tr", has_text="bijwerken.csv")).to_contain_text("Ongedaan gemaakt")
    expect(history.locator("tr", has_text="klein.csv")).to_contain_text("voorvertoning")
    check_a11y(page)
    screenshot(page, "school-importeren-geschiedenis")
    done.get_by_role("link", name="export.csv").click()
    expect(page.get_by_role("heading", name="Resultaat")).to_be_visible()


def test_afdelingsdeelnames_importeren_alleen_importeren(page, system, tmp_path):
    _inst, admin = system.school("42AD", "Het Deelnamecollege", admin="deelname")
    for number in ("8001", "8002", "8003"):
        system.ok("POST", "/students", admin, json={
            "student_number": number, "type": "non_transfer", "initials": "A.",
            "first_name": "Anna" + number, "last_name": "Jansen"})
    project = system.ok("POST", "/projects", admin, json={
        "name": "Rooster volgend jaar", "school_year": "2031-2032", "branch": "Hoofdgebouw"})
    for code in ("h4", "v4"):
        system.ok("POST", f"/projects/{project['id']}/departments", admin, json={
            "code": code, "year_of_education": 4, "education": code,
            "home_class_authority": "portal"})
    system.ok("POST", f"/projects/{project['id']}/participations", admin,
              json={"student_number": "8003", "department": "v4"})

    login(page, "42AD", "deelname", "Beheer-wachtwoord-1")
    page.goto("/importeren")
    page.get_by_role("navigation", name="Soort import").get_by_role(
        "link", name="Afdelingsdeelnames").click()
    expect(page).to_have_url(re.compile(r"/importeren/afdelingsdeelnames$"))
    check_a11y(page)
    content = export([("8001", "h4", "60%", "NT", "", "h4a"), ("8001", "v4", "40", "", "", ""),
                      ("8002", "h4", "100", "", "", "h4b"), ("8003", "h4", "", "", "", "")],
                     header=("leerlingcode", "afdeling", "Pr%", "profiel", "opleiding",
                             "stamklas"), sep=";")
    page.get_by_label("Bestand", exact=True).set_input_files(
        write(tmp_path, "deelnames.csv", content))
    page.get_by_role("button", name="Bestand inlezen").click()
    expect(page.get_by_label("Gegeven in kolom leerlingcode")).to_have_value("student_number")
    expect(page.get_by_label("Gegeven in kolom Pr%")).to_have_value("forecast")
    expect(page.get_by_label("Gegeven in kolom stamklas")).to_have_value("home_class")
    # the project is required
    page.get_by_role("button", name="Voorvertoning").click()
    field = page.locator(".field", has=page.get_by_label("Roosterproject"))
    expect(field.locator(".field-error")).to_be_visible()
    page.get_by_label("Roosterproject").select_option(str(project["id"]))
    page.get_by_role("button", name="Voorvertoning").click()
    tabs = page.get_by_role("navigation", name="Regels per actie")
    expect(tabs).to_contain_text("Nieuw (3)")
    expect(tabs).to_contain_text("Overgeslagen (1)")
    skipped = page.locator("#voorvertoning-tabel tr", has_text="8003")
    expect(skipped).to_contain_text("Overgeslagen")
    expect(skipped).to_contain_text("al een afdelingsdeelname")
    expect(page.locator("#voorvertoning-tabel tr", has_text="8002")).to_contain_text(
        "Stamklas: h4b")
    check_a11y(page)
    screenshot(page, "school-afdelingsdeelnames-importeren")
    page.get_by_role("button", name="Doorvoeren").click()
    expect(page.get_by_role("heading", name="Resultaat")).to_be_visible(timeout=60_000)
    result = page.get_by_test_id("resultaat")
    expect(result.locator("div", has_text="Aangemaakt")).to_contain_text("3")
    expect(result.locator("div", has_text="Overgeslagen")).to_contain_text("1")
    placed = system.ok("GET", f"/projects/{project['id']}/participations?student_number=8001",
                       admin)["items"]
    assert sorted((p["department"], p["forecast"]) for p in placed) == [("h4", 60), ("v4", 40)]
    page.get_by_role("link", name="Geschiedenis").first.click()
    expect(page.get_by_role("table")).to_contain_text("Afdelingsdeelnames")
    expect(page.get_by_role("table")).to_contain_text("1 overgeslagen")
