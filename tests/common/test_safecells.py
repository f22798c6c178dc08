"""The one helper every written workbook and CSV goes through."""
import io

import pytest
from openpyxl import Workbook, load_workbook

from services.common import safecells


@pytest.mark.parametrize("value,csv", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    ("+31 6 12345678", "'+31 6 12345678"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"),
    ("\rx", "'\rx"),
    # legitimate values stay as they are
    ("-", "-"), ("=", "="), ("-5", "-5"), ("+31", "+31"), ("-1,5", "-1,5"), ("1e3", "1e3"),
    ("020355889", "020355889"), ("03-11-2010", "03-11-2010"), ("h4", "h4"), ("", ""),
    (None, ""), (123, "123"),
])
def test_csv_values(value, csv):
    assert safecells.csv_value(value) == csv


def test_xlsx_cells_are_text_never_formulas():
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("x")
    values = ["=1+1", "@A1", "-", "-5", "Anna", 12, "bad\x01char"]
    ws.append([safecells.xlsx_cell(ws, v) for v in values])
    out = io.BytesIO()
    wb.save(out)
    row = load_workbook(io.BytesIO(out.getvalue()))["x"][1]
    assert [c.value for c in row] == ["=1+1", "@A1", "-", "-5", "Anna", 12, "badchar"]
    assert [c.data_type for c in row] == ["s", "s", "s", "s", "s", "n", "s"]
    assert [bool(c.quotePrefix) for c in row] == [True, True, False, False, False, False,
                                                  False]
