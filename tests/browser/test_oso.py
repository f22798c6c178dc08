"""onderwijstransparant-oso-importeren.txt as the school administrator does it in
the browser: 1. register the delivery point with the key as Mijn OSO shows it;
3. create the students by BSN (by hand and from an Excel file with a column
BSN); 4. choose per student what to do and run the chosen actions, with
progress per student; then the dossier in readable Dutch (labels, not codes
such as advice "40"), the official validation messages, the attachments, and
the report made definitive after a confirmation."""
import io
import re
import shutil

import pytest
from openpyxl import Workbook
from playwright.sync_api import expect

from tests.browser.conftest import OSO_STANDARD, check_a11y, login, screenshot
from tests.uploads import xlsxfactory as xf

KEY = "018294B0-8DE2-4269-A422-E09C320A55C1"
FULL = "Voorbeelddossier_OV_POVO_full.xml"
BSN = "269326728"   # the student in the example dossier


def sheet(values):
    book = Workbook()
    ws = book.active
    ws.append(["BSN"])
    for value in values:
        ws.append([value])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_oso_registreren_leerlingen_aanmaken_acties_uitvoeren_en_dossier(page, system,
                                                                          tmp_path):
    if not (OSO_STANDARD / "examples" / FULL).is_file():
        pytest.skip(f"the OSO example dossiers are not at {OSO_STANDARD}")
    system.school("45OS", "Het OSO-college", admin="oso")
    # the primary school put the dossier ready in its LAS
    shutil.copy(OSO_STANDARD / "examples" / FULL, system.oso_dir / FULL)

    login(page, "45OS", "oso", "Beheer-wachtwoord-1")
    page.get_by_role("link", name="OSO").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("OSO importeren")
    check_a11y(page)
    # 1. the delivery point: a key of another BRIN is refused beside the key
    page.get_by_label("Nummer").fill("1")
    page.get_by_label("Sleutel").fill("01CD-" + KEY)
    page.get_by_role("button", name="Registreer het aanleverpunt").click()
    key = page.locator(".field", has=page.get_by_label("Sleutel"))
    expect(key.locator(".field-error")).to_contain_text("45OS")
    expect(page.get_by_label("Nummer")).to_have_value("1")
    expect(page.get_by_label("Sleutel")).to_have_value("")  # a key is never echoed
    check_a11y(page)
    page.get_by_label("Sleutel").fill(KEY)
    page.get_by_role("button", name="Registreer het aanleverpunt").click()
    expect(page.get_by_role("status")).to_contain_text("Aanleverpunt 1 is geregistreerd")
    expect(page.get_by_text(re.compile(r"sleutel \*+55C1"))).to_be_visible()
    assert KEY not in page.content()

    # 3. students by BSN: a wrong one is refused, then by hand and from Excel
    page.get_by_label("BSN", exact=True).fill("123456789")
    page.get_by_role("button", name="BSN toevoegen").click()
    field = page.locator(".field", has=page.get_by_label("BSN", exact=True))
    expect(field.locator(".field-error")).to_be_visible()
    page.get_by_label("BSN", exact=True).fill(BSN)
    page.get_by_role("button", name="BSN toevoegen").click()
    expect(page.get_by_role("status")).to_contain_text(BSN)
    other = xf.bsns(1, start=40_000_000)[0]
    excel = tmp_path / "bsn.xlsx"
    excel.write_bytes(sheet([other, "12345", BSN]))
    page.get_by_label("Excel-bestand").set_input_files(str(excel))
    page.get_by_role("button", name="Excel-lijst inlezen").click()
    report = page.get_by_role("alert")
    expect(report).to_contain_text("1 van de 3 regels zijn toegevoegd")
    expect(report).to_contain_text("Regel 3")
    expect(report).to_contain_text("Regel 4")
    check_a11y(page)

    # 4. per student the action; never fetched: Importeren
    rows = page.locator("#werklijst-tabel tbody tr")
    expect(rows).to_have_count(2)
    mine = page.locator("#werklijst-tabel tr", has_text=BSN)
    expect(mine).to_contain_text("Dossier nog niet opgehaald")
    expect(mine.get_by_label("Importeren")).to_be_checked()
    screenshot(page, "school-oso")
    page.get_by_role("button", name="Uitvoeren", exact=True).click()

    # progress per student, then the outcome in words
    expect(page.get_by_role("heading", level=1)).to_have_text("Geselecteerde acties uitvoeren")
    expect(page.get_by_text(re.compile("^Klaar:"))).to_be_visible(timeout=60_000)
    table = page.locator("#acties-tabel")
    expect(table.locator("tr", has_text=BSN)).to_contain_text("Verwerkt")
    failed = table.locator("tr", has_text=other)
    expect(failed).to_contain_text("Mislukt")
    expect(failed).to_contain_text("geen OSO-dossier klaar")
    check_a11y(page)
    screenshot(page, "school-oso-acties")

    # the dossier in readable Dutch
    table.get_by_role("link", name=BSN).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Daan van de Berg")
    advice = page.get_by_test_id("advies")
    expect(advice.locator("div", has_text="Advies van de school")).to_contain_text(
        "vmbo gemengde of theoretische leerweg")
    expect(advice.locator("div", has_text="Advies van de school")).not_to_contain_text("40")
    expect(advice.locator("div", has_text="Advies volgens leerling")).to_contain_text("havo")
    expect(page.get_by_role("heading", name=re.compile("Pieter van de Berg"))).to_contain_text(
        "vader")
    expect(page.locator("dl", has_text="Geboortedatum")).to_contain_text("17-03-2003")
    expect(page.get_by_text("Geen meldingen.")).to_be_visible()
    expect(page.get_by_text("officiële OSO-validatie")).to_be_visible()
    check_a11y(page)
    screenshot(page, "school-oso-dossier")
    with page.expect_download() as info:
        page.get_by_role("link", name="Leerlingrapport van Centrale Eindtoets").first.click()
    assert info.value.suggested_filename == "cet_uitslag.png"
    assert open(info.value.path(), "rb").read()[:8] == b"\x89PNG\r\n\x1a\n"

    # the report made definitive, after a confirmation
    page.get_by_role("button", name="Rapport definitief maken").click()
    expect(page.locator("#confirm-fout")).to_contain_text("Bevestig")
    page.get_by_label("Ja, maak het rapport definitief").check()
    page.get_by_role("button", name="Rapport definitief maken").click()
    expect(page.get_by_role("status")).to_contain_text("definitief")
    expect(page.get_by_text(re.compile("Het rapport is definitief sinds"))).to_be_visible()

    # back in the overview: fetched, last action, the dossier's date; now Geen actie
    page.get_by_role("link", name="OSO importeren").click()
    mine = page.locator("#werklijst-tabel tr", has_text=BSN)
    expect(mine).to_contain_text(re.compile(r"Opgehaald op \d{2}-\d{2}-\d{4}"))
    expect(mine).to_contain_text("Importeren")
    expect(mine).to_contain_text("02-01-2016")
    expect(mine).to_contain_text("rapport definitief")
    expect(mine.get_by_label("Geen actie")).to_be_checked()
