"""The .xlsx files of a student list (openpyxl, write-only: constant memory):
the template school staff fill in, and the report of a checked list, which
is the same workbook with the school's rows in it.

Sheet "Leerlingen": the column titles in a styled, frozen header row;
identifier and text columns formatted as text (Excel keeps leading zeros),
the date column as dd-mm-jjjj, drop-down validations where a column has a
fixed list, readable widths. Sheet "Instructies": what each column means and
which are required. The report adds the marks of its errors and a sheet
"Fouten" (report.py); a school corrects it and sends it back as it is.

Every value goes through services/common/safecells.py: nothing the school
sent comes back as a live formula.
"""
import functools
import io

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.filters import AutoFilter

from services.common import safecells

from . import columns as colspec

HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_ALIGN = Alignment(horizontal="center", vertical="center")
HEADER_BORDER = Border(bottom=Side(style="thin", color="FFFFFF"),
                       right=Side(style="thin", color="FFFFFF"))
VALIDATION_ROWS = 100_001  # the default row limit plus the header
TEXT_FORMAT = "@"
DATE_FORMAT = "dd-mm-yyyy"


def number_format(col):
    """The cell format of a column: text for identifiers and text (Excel keeps
    leading zeros and never turns 1-2 into a date), a date format for dates,
    None (General) for the year."""
    if col is None:
        return None
    if col.kind in ("id", "text", "email", "postcode") or \
            (col.kind == "choice" and col.field != "year_of_education"):
        return TEXT_FORMAT
    if col.kind == "date":
        return DATE_FORMAT
    return None


def _list_validation(col, letter):
    values = ",".join(str(c) for c in col.choices)
    shown = ", ".join(str(c) for c in col.choices)
    dv = DataValidation(type="list", formula1=f'"{values}"', allow_blank=not col.required,
                        showDropDown=False)  # False shows the arrow (OOXML's odd naming)
    dv.error = f"Kies een waarde uit de lijst: {shown}."
    dv.errorTitle = col.title
    dv.prompt = col.help or f"Kies een waarde uit de lijst: {shown}."
    dv.promptTitle = col.title
    dv.showErrorMessage = True
    dv.showInputMessage = True
    dv.add(f"{letter}2:{letter}{VALIDATION_ROWS}")
    return dv


def layout(school_type, student_type, header=None):
    """The Column spec of each sheet column (None for a column the template
    does not know): the template's order, or the order of a submitted header
    (titles matched as the check matches them)."""
    cols = colspec.columns(school_type, student_type)
    if header is None:
        return list(cols)
    by_title = {colspec.title_key(c.title): c for c in cols}
    return [by_title.get(colspec.title_key(title)) if isinstance(title, str) else None
            for title in header]


def data_sheet(wb, specs, titles=None):
    """The "Leerlingen" sheet of a write-only workbook, laid out for `specs`
    (one Column or None per column): widths, formats, drop-downs, frozen
    header, filter. Rows are appended by the caller (header first)."""
    ws = wb.create_sheet(colspec.SHEET_TITLE)
    titles = titles or [c.title for c in specs]
    for index, col in enumerate(specs, 1):
        letter = get_column_letter(index)
        dim = ws.column_dimensions[letter]
        title = titles[index - 1] if index - 1 < len(titles) else None
        width = col.width if col is not None else 14
        dim.width = max(width, len(str(title or "")) + 3)
        fmt = number_format(col)
        if fmt:
            dim.number_format = fmt
        if col is not None and col.choices:
            ws.data_validations.append(_list_validation(col, letter))
    ws.freeze_panes = "A2"
    ws.row_dimensions[1].height = 22
    if specs:
        ws.auto_filter = AutoFilter(ref=f"A1:{get_column_letter(len(specs))}1")
    return ws


def header_cell(ws, title, col):
    cell = safecells.xlsx_cell(ws, title, force=True)
    cell.font = HEADER_FONT
    cell.fill = HEADER_FILL
    cell.alignment = HEADER_ALIGN
    cell.border = HEADER_BORDER
    if col is not None and col.help:
        cell.comment = Comment(col.help, "Leerlingbus", width=260, height=90)
    return cell


def instructions_sheet(wb, school_type, student_type):
    cols = colspec.columns(school_type, student_type)
    info = wb.create_sheet(colspec.INSTRUCTIONS_TITLE)
    info.column_dimensions["A"].width = 22
    info.column_dimensions["B"].width = 12
    info.column_dimensions["C"].width = 90
    title = (f"Leerlinglijst {colspec.SCHOOL_TYPE_NL[school_type]} – "
             f"{colspec.STUDENT_TYPE_NL[student_type]}")
    lines = [
        "Vul op het tabblad 'Leerlingen' één leerling per rij in, vanaf rij 2.",
        "Wijzig de kolomtitels niet en voeg geen kolommen toe: de titels moeten zo "
        "blijven (hoofdletters mogen verschillen).",
        "Leerlingnummer, BSN en onderwijsnummer zijn als tekst opgemaakt, zodat voorloopnullen "
        "bewaard blijven. Plak gegevens met 'Plakken speciaal > Waarden' om die opmaak te "
        "houden.",
        "Een datum mag een Excel-datum zijn of tekst als dd-mm-jjjj.",
        "Na het opsturen controleren wij het bestand. Bij fouten krijgt u een rapport: dit "
        "format met uw gegevens, de foute cellen rood gemarkeerd en uitgelegd, en een tabblad "
        "'Fouten'. Verbeter de cellen in het rapport en stuur het rapport zelf opnieuw op.",
        "Een goedgekeurde lijst wordt door de helpdesk gecontroleerd en daarna ingeladen.",
    ]
    cell = WriteOnlyCell(info, value=title)
    cell.font = Font(bold=True, size=14)
    info.append([cell])
    info.append([])
    for line in lines:
        info.append([line])
    info.append([])
    info.append([header_cell(info, head, None) for head in ("Kolom", "Verplicht", "Toelichting")])
    transfer = student_type == "potential_transfer"
    wrap = Alignment(wrap_text=True, vertical="top")
    for col in cols:
        required = "ja" if col.required else "nee"
        if col.field == "bsn" and transfer:
            required = "ja, of onderwijsnummer"
        help_cell = WriteOnlyCell(info, value=col.help or "")
        help_cell.alignment = wrap
        info.append([col.title, required, help_cell])
    info.freeze_panes = f"A{len(lines) + 5}"
    return info


def save(wb):
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def build_template(school_type, student_type) -> bytes:
    specs = layout(school_type, student_type)
    wb = Workbook(write_only=True)
    ws = data_sheet(wb, specs)
    ws.append([header_cell(ws, c.title, c) for c in specs])
    instructions_sheet(wb, school_type, student_type)
    return save(wb)


@functools.lru_cache(maxsize=8)
def template_bytes(school_type, student_type) -> bytes:
    return build_template(school_type, student_type)
