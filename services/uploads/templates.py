"""The .xlsx templates school staff fill in (openpyxl).

Sheet "Leerlingen": the column titles in a styled, frozen header row;
identifier columns formatted as text (Excel keeps leading zeros), the date
column as dd-mm-jjjj, drop-down validations where a column has a fixed list.
Sheet "Instructies": what each column means and which are required.
"""
import functools
import io

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from . import columns as colspec

HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
HEADER_FONT = Font(bold=True, color="FFFFFF")
REQUIRED_MARK_FILL = PatternFill("solid", fgColor="C00000")
VALIDATION_ROWS = 100_001  # the default row limit plus the header


def _list_validation(col, letter):
    values = ",".join(str(c) for c in col.choices)
    dv = DataValidation(type="list", formula1=f'"{values}"', allow_blank=not col.required,
                        showDropDown=False)  # False shows the arrow (OOXML's odd naming)
    dv.error = f"Kies een waarde uit de lijst: {values.replace(',', ', ')}."
    dv.errorTitle = col.title
    dv.prompt = col.help or f"Kies een waarde uit de lijst: {values.replace(',', ', ')}."
    dv.promptTitle = col.title
    dv.showErrorMessage = True
    dv.showInputMessage = True
    dv.add(f"{letter}2:{letter}{VALIDATION_ROWS}")
    return dv


def build_template(school_type, student_type) -> bytes:
    cols = colspec.columns(school_type, student_type)
    wb = Workbook()
    ws = wb.active
    ws.title = colspec.SHEET_TITLE
    thin = Side(style="thin", color="FFFFFF")
    for index, col in enumerate(cols, 1):
        letter = get_column_letter(index)
        cell = ws.cell(row=1, column=index, value=col.title)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center")
        cell.border = Border(bottom=thin, right=thin)
        if col.help:
            cell.comment = Comment(col.help, "Leerlingbus", width=260, height=90)
        dim = ws.column_dimensions[letter]
        dim.width = max(col.width, len(col.title) + 3)
        if col.kind in ("id", "text", "email", "postcode") or \
                (col.kind == "choice" and col.field != "year_of_education"):
            dim.number_format = "@"  # text: Excel keeps leading zeros of identifiers
        elif col.kind == "date":
            dim.number_format = "dd-mm-yyyy"
        if col.choices:
            ws.add_data_validation(_list_validation(col, letter))
    ws.freeze_panes = "A2"
    ws.row_dimensions[1].height = 22
    ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}1"

    info = wb.create_sheet(colspec.INSTRUCTIONS_TITLE)
    info.column_dimensions["A"].width = 22
    info.column_dimensions["B"].width = 12
    info.column_dimensions["C"].width = 90
    title = (f"Leerlinglijst {colspec.SCHOOL_TYPE_NL[school_type]} – "
             f"{colspec.STUDENT_TYPE_NL[student_type]}")
    info["A1"] = title
    info["A1"].font = Font(bold=True, size=14)
    lines = [
        "Vul op het tabblad 'Leerlingen' één leerling per rij in, vanaf rij 2.",
        "Wijzig de kolomtitels niet en voeg geen kolommen toe: de titels moeten exact zo "
        "blijven.",
        "Leerlingnummer, BSN en onderwijsnummer zijn als tekst opgemaakt, zodat voorloopnullen "
        "bewaard blijven.",
        "Een datum mag een Excel-datum zijn of tekst als dd-mm-jjjj.",
        "Na het opsturen controleren wij het bestand. Bij fouten krijgt u een rapport met de "
        "foute cellen gemarkeerd; verbeter het bestand en stuur het opnieuw op.",
        "Een goedgekeurde lijst wordt door de helpdesk gecontroleerd en daarna ingeladen.",
    ]
    for row, line in enumerate(lines, 3):
        info.cell(row=row, column=1, value=line)
    start = len(lines) + 4
    for index, head in enumerate(("Kolom", "Verplicht", "Toelichting"), 1):
        cell = info.cell(row=start, column=index, value=head)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
    transfer = student_type == "potential_transfer"
    for offset, col in enumerate(cols, 1):
        required = "ja" if col.required else "nee"
        if col.field == "bsn" and transfer:
            required = "ja, of onderwijsnummer"
        info.cell(row=start + offset, column=1, value=col.title)
        info.cell(row=start + offset, column=2, value=required)
        info.cell(row=start + offset, column=3, value=col.help or "")
        info.cell(row=start + offset, column=3).alignment = Alignment(wrap_text=True)
    info.freeze_panes = f"A{start + 1}"
    wb.active = 0
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@functools.lru_cache(maxsize=8)
def template_bytes(school_type, student_type) -> bytes:
    return build_template(school_type, student_type)
