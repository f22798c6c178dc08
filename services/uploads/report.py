"""report.xlsx: the submitted sheet with each faulty cell coloured and a
comment explaining it, a red header cell for a column-title problem, and a
second sheet "Fouten" listing every error (also those without a cell).
Written with openpyxl in write-only mode (constant memory)."""
import datetime as dt
import io

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill

ERROR_FILL = PatternFill("solid", fgColor="FFC7CE")
ERROR_FONT = Font(color="9C0006")
HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
HEADER_FONT = Font(bold=True, color="FFFFFF")
OK_TITLE_FILL = PatternFill("solid", fgColor="C6EFCE")


def _by_row(errors):
    """{row: {column index: [messages]}} of the errors that point at a cell."""
    rows = {}
    for err in errors:
        ref = err.get("cell")
        if ref:
            col, row = _split(ref)
            rows.setdefault(row, {}).setdefault(col, []).append(err["message"])
    return rows


def _value(value):
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    if value == "":
        return None
    return value


def build_report(rows, errors, error_count=None) -> bytes:
    """`rows`: iterable of (sheet row number, cells); `errors`: error items
    with a `cell` reference (e.g. 'B5') where they point at one."""
    marks = _by_row(errors)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Leerlingen")
    ws.freeze_panes = "A2"
    expected = 1
    for rownum, cells in rows:
        while expected < rownum:  # keep the sheet's row numbers
            ws.append([])
            expected += 1
        row_marks = marks.get(rownum, {})
        width = max([len(cells)] + [c + 1 for c in row_marks])
        out = []
        for index in range(width):
            value = _value(cells[index]) if index < len(cells) else None
            messages = row_marks.get(index)
            if rownum == 1 or messages or isinstance(value, (dt.date, dt.datetime)):
                cell = WriteOnlyCell(ws, value=value)
                if isinstance(value, (dt.date, dt.datetime)):
                    cell.number_format = "dd-mm-yyyy"
                if rownum == 1:
                    cell.font = HEADER_FONT
                    cell.fill = HEADER_FILL
                if messages:
                    cell.fill = ERROR_FILL
                    cell.font = ERROR_FONT if rownum != 1 else Font(bold=True, color="9C0006")
                    cell.comment = Comment("\n".join(messages), "Leerlingbus",
                                           width=300, height=80 + 20 * len(messages))
                out.append(cell)
            else:
                out.append(value)
        ws.append(out)
        expected = rownum + 1

    listing = wb.create_sheet("Fouten")
    head = []
    for title in ("Rij", "Kolom", "Cel", "Code", "Melding"):
        cell = WriteOnlyCell(listing, value=title)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        head.append(cell)
    listing.append(head)
    for err in errors:
        listing.append([err.get("row"), err.get("column"), err.get("cell"), err["code"],
                        err["message"]])
    if error_count is not None and error_count > len(errors):
        listing.append([None, None, None, "more_errors",
                        f"Er zijn {error_count} fouten; hierboven staan de eerste {len(errors)}."])
    if not errors:
        listing.append([None, None, None, None, "Geen fouten gevonden."])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _split(ref):
    letters = "".join(ch for ch in ref if ch.isalpha())
    number = int(ref[len(letters):])
    index = 0
    for ch in letters:
        index = index * 26 + (ord(ch) - 64)
    return index - 1, number
