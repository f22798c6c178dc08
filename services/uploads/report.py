"""report.xlsx: the school's own list in the template it came from.

The sheet "Leerlingen" is the template (templates.py: text-formatted
identifier columns, drop-downs, widths, frozen header, the column help) with
the submitted rows in their own row numbers; each faulty cell is filled red
with a comment explaining it, a header problem makes the title red. Then the
sheet "Fouten" (row, column title, message, and the code in a last, narrow
column: also the errors without a cell) and the sheet "Instructies". A school
corrects the cells and sends the report back as it is: the check reads the
sheet "Leerlingen" only.

Written in write-only mode (constant memory, up to the 100,000-row limit).
Every value passes services/common/safecells.py: an uploaded "=HYPERLINK(...)"
comes back as that text, never as a live formula.
"""
import datetime as dt

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill

from services.common import safecells

from . import templates

ERROR_FILL = PatternFill("solid", fgColor="FFC7CE")
ERROR_FONT = Font(color="9C0006")
HEADER_ERROR_FONT = Font(bold=True, color="9C0006")
WRAP = Alignment(wrap_text=True, vertical="top")


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


def _cell(ws, value, col, messages):
    """A data cell: safe, in its column's format, marked when faulty."""
    fmt = templates.number_format(col)
    is_date = isinstance(value, (dt.date, dt.datetime))
    if fmt == templates.TEXT_FORMAT and isinstance(value, (int, float)) \
            and not isinstance(value, bool):
        value = str(value)  # a text column: keep "0123" as typed, never 1.23E+5
    if not (messages or fmt or is_date):
        return safecells.xlsx_cell(ws, value)
    cell = safecells.xlsx_cell(ws, value, force=True)
    if is_date:
        cell.number_format = templates.DATE_FORMAT
    elif fmt and value is not None:
        cell.number_format = fmt
    if messages:
        cell.fill = ERROR_FILL
        cell.font = ERROR_FONT
        cell.comment = Comment("\n".join(messages), "Leerlingbus", width=300,
                               height=80 + 20 * len(messages))
    return cell


def build_report(rows, errors, error_count=None, school_type="vo",
                 student_type="potential_transfer") -> bytes:
    """`rows`: iterable of (sheet row number, cells), the header (row 1)
    first; `errors`: error items with a `cell` reference (e.g. 'B5') where
    they point at one."""
    marks = _by_row(errors)
    rows = iter(rows)
    first = next(rows, None)
    pending = []
    header = []
    if first is not None:
        if first[0] == 1:
            header = list(first[1])
        else:
            pending = [first]
    specs = templates.layout(school_type, student_type, header) if header else \
        templates.layout(school_type, student_type)
    titles = header or [c.title for c in specs]
    wb = Workbook(write_only=True)
    ws = templates.data_sheet(wb, specs, titles)
    header_marks = marks.get(1, {})
    width = max([len(titles)] + [c + 1 for c in header_marks])
    out = []
    for index in range(width):
        title = _value(titles[index]) if index < len(titles) else None
        col = specs[index] if index < len(specs) else None
        cell = templates.header_cell(ws, title, col)
        if header_marks.get(index):
            messages = header_marks[index]
            cell.fill = ERROR_FILL
            cell.font = HEADER_ERROR_FONT
            cell.comment = Comment("\n".join(messages), "Leerlingbus", width=300,
                                   height=80 + 20 * len(messages))
        out.append(cell)
    ws.append(out)
    expected = 2

    def data_rows():
        yield from pending
        yield from rows

    for rownum, cells in data_rows():
        if rownum < expected:
            continue
        while expected < rownum:  # keep the sheet's row numbers
            ws.append([])
            expected += 1
        row_marks = marks.get(rownum, {})
        width = max([len(cells)] + [c + 1 for c in row_marks])
        out = []
        for index in range(width):
            value = _value(cells[index]) if index < len(cells) else None
            col = specs[index] if index < len(specs) else None
            out.append(_cell(ws, value, col, row_marks.get(index)))
        ws.append(out)
        expected = rownum + 1

    _errors_sheet(wb, errors, error_count)
    templates.instructions_sheet(wb, school_type, student_type)
    return templates.save(wb)


def _errors_sheet(wb, errors, error_count):
    listing = wb.create_sheet("Fouten")
    for letter, width in (("A", 7), ("B", 20), ("C", 90), ("D", 12)):
        listing.column_dimensions[letter].width = width
    listing.freeze_panes = "A2"
    listing.append([templates.header_cell(listing, title, None)
                    for title in ("Rij", "Kolom", "Melding", "Code")])

    def message_cell(text):
        cell = safecells.xlsx_cell(listing, text, force=True)
        cell.alignment = WRAP
        return cell

    for err in errors:
        listing.append([err.get("row"), safecells.xlsx_cell(listing, err.get("column")),
                        message_cell(err["message"]), err["code"]])
    if error_count is not None and error_count > len(errors):
        listing.append([None, None, message_cell(
            f"Er zijn {error_count} fouten; hierboven staan de eerste {len(errors)}."),
            "more_errors"])
    if not errors:
        listing.append([None, None, "Geen fouten gevonden.", None])


def _split(ref):
    letters = "".join(ch for ch in ref if ch.isalpha())
    number = int(ref[len(letters):])
    index = 0
    for ch in letters:
        index = index * 26 + (ord(ch) - 64)
    return index - 1, number
