"""Cells that cannot hurt: every workbook and CSV file the system writes goes
through here, so a value that a spreadsheet program would read as a formula
(CSV/formula injection: `=HYPERLINK(...)`, `=cmd|...`, `@SUM(...)`) arrives
as the text it is.

A value is guarded when its text starts with `=`, `+`, `-`, `@`, a tab or a
carriage return (OWASP's list), unless it is a plain number ("-5", "+31",
"-1,5": a spreadsheet reads those as numbers, never as formulas) or a single
character ("-" for "none" stays "-": one character is never a formula).

- CSV: a guarded value gets a leading apostrophe (OWASP's advice): every
  spreadsheet program shows the text, the apostrophe is visible only in a
  text editor, and no program evaluates it.
- xlsx (openpyxl): the cell is written as a string (data_type "s"; openpyxl
  would otherwise store text starting with "=" as a formula) with Excel's
  quotePrefix style, so the text shows unchanged, without an apostrophe in the
  value, and stays text when the school edits the cell. A value that goes back
  into an upload is therefore read back exactly as it was sent.

Characters an xlsx file cannot hold at all (control characters other than
tab, line feed and carriage return) are dropped rather than making the whole
file fail.
"""

import re

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?")


def needs_guard(text):
    """True when `text` (a str) would be read as a formula by a spreadsheet."""
    return len(text) > 1 and text[0] in TRIGGERS and _PLAIN_NUMBER.fullmatch(text) is None


def csv_value(value):
    """The text of one CSV field: None is empty, a formula-like text gets a
    leading apostrophe."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return "'" + text if needs_guard(text) else text


def csv_row(values):
    return [csv_value(v) for v in values]


def xlsx_text(value):
    """A str without the characters an xlsx cannot store."""
    return ILLEGAL_CHARACTERS_RE.sub("", value) if ILLEGAL_CHARACTERS_RE.search(value) else value


def xlsx_cell(ws, value, force=False):
    """A WriteOnlyCell of `ws` holding `value` safely: text is always stored as
    text (never a formula), a formula-like text with quotePrefix. `force`
    returns a cell also when no guard is needed (to style it)."""
    if isinstance(value, str):
        value = xlsx_text(value)
        guard = needs_guard(value)
        if not (guard or force or value.startswith("=")):
            return value
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        if guard:
            cell.quotePrefix = True
        return cell
    if force:
        return WriteOnlyCell(ws, value=value)
    return value


def set_safe(cell, value):
    """Put `value` in an openpyxl cell of a normal (not write-only) sheet safely."""
    if isinstance(value, str):
        value = xlsx_text(value)
        cell.value = value
        cell.data_type = "s"
        if needs_guard(value):
            cell.quotePrefix = True
    else:
        cell.value = value
    return cell
