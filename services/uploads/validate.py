"""Reading and checking a student list, meant to run off the eventlet hub (in
the child process of checkproc.py): python-calamine reads the sheet (cached values of formulas,
hidden sheets never chosen), rules.py checks each row as it streams by, and
the clean rows go straight to a gzip'd JSON-lines file. Nothing here talks to
a database or the broker; progress is shared through a plain object the
caller polls.

Why calamine: measured on a 50,000-row, 18-column list (bench/uploads_bench.py),
openpyxl read-only reads ~4k rows/s here, calamine ~80k rows/s; openpyxl stays
the writer of templates and reports.
"""
import datetime as dt
import itertools
from dataclasses import dataclass, field

import python_calamine

from . import columns as colspec
from . import rules
from .storage import RowsWriter


@dataclass
class Progress:
    done: int = 0
    total: int = 0


@dataclass
class Outcome:
    rows: int = 0
    errors: list = field(default_factory=list)
    error_count: int = 0
    numbers: list = field(default_factory=list)  # (student number, bsn, sheet row)


class _Errors:
    def __init__(self, cap):
        self.cap = cap
        self.items = []
        self.count = 0

    def extend(self, items):
        self.count += len(items)
        room = self.cap - len(self.items)
        if room > 0:
            self.items.extend(items[:room])


def _cell_ref(err, positions):
    """'B5' for an error on a cell of the sheet; None for a file-level one."""
    field_ = err.get("field")
    row = err.get("row")
    if row is None or field_ not in positions:
        return None
    return f"{rules.column_letter(positions[field_])}{row}"


def open_sheet(path, sheet_name):
    wb = python_calamine.CalamineWorkbook.from_path(str(path))
    try:
        sheet = wb.get_sheet_by_name(sheet_name)
    except Exception:
        sheet = wb.get_sheet_by_index(0)
    return wb, sheet


def sheet_rows(sheet):
    """(sheet row number, cells) of every row, the absolute positions kept:
    calamine's range starts at the first used cell."""
    start = sheet.start
    if start is None:
        return
    row0, col0 = start
    pad = [None] * col0
    for offset, cells in enumerate(sheet.iter_rows()):
        yield row0 + offset + 1, (pad + cells) if col0 else cells


class TooManyRows(Exception):
    pass


def check_file(path, school_type, student_type, sheet_name, rows_path, max_errors,
               progress=None, today=None, max_rows=None, on_numbers=None,
               numbers_chunk=5000) -> Outcome:
    """`on_numbers(list)` gets the student numbers of the clean rows in chunks
    of `numbers_chunk` as they are found (the caller looks them up meanwhile),
    the last chunk before this returns."""
    progress = progress or Progress()
    cols = colspec.columns(school_type, student_type)
    outcome = Outcome()
    errors = _Errors(max_errors)
    wb, sheet = open_sheet(path, sheet_name)
    try:
        rows = sheet_rows(sheet)
        header = []
        first = next(rows, None)
        pending = None
        if first is not None:
            if first[0] == 1:
                header = first[1]
            else:
                pending = first
        positions, header_errors = rules.check_header(header, cols,
                                                       chosen=(school_type, student_type))
        titled = {i for i, v in enumerate(header) if rules.normalize_title(v)}
        untitled_with_data = set()
        checker = None if header_errors else rules.RowChecker(
            school_type, student_type, positions, today or dt.date.today())
        writer = RowsWriter(rows_path) if checker else None
        count = 0

        header_width = len(header)
        untitled = [i for i in range(header_width) if i not in titled]
        blank = rules.blank
        check = checker.check if checker is not None else None
        numbers = outcome.numbers
        write = writer.write if writer is not None else None
        sent = 0
        if pending is not None:
            rows = itertools.chain((pending,), rows)
        try:
            for rownum, cells in rows:
                width = len(cells)
                if cells.count("") + cells.count(None) == width or all(map(blank, cells)):
                    continue
                for index in untitled:
                    if index < width and not blank(cells[index]):
                        untitled_with_data.add(index)
                for index in range(header_width, width):
                    if not blank(cells[index]):
                        untitled_with_data.add(index)
                count += 1
                progress.done = count
                if max_rows is not None and count > max_rows:
                    raise TooManyRows(max_rows)
                if check is None:
                    continue
                clean, row_errors = check(rownum, cells)
                if row_errors:
                    for err in row_errors:
                        err["cell"] = _cell_ref(err, positions)
                    errors.extend(row_errors)
                else:
                    numbers.append((clean["student_number"], clean.get("bsn"), rownum))
                    if not errors.count:
                        write(clean)
                    if on_numbers is not None and len(numbers) - sent >= numbers_chunk:
                        on_numbers([n for n, _b, _r in numbers[sent:]])
                        sent = len(numbers)
        except TooManyRows:
            if writer is not None:
                writer.discard()
            msg = (f"Het bestand heeft meer dan {max_rows} rijen met leerlingen; splits de "
                   f"lijst in delen van hoogstens {max_rows} rijen.")
            outcome.rows = count - 1
            outcome.errors = [{"row": None, "column": None, "field": "file", "cell": None,
                               "code": "too_many_rows", "message": msg}]
            outcome.error_count = 1
            outcome.numbers = []
            return outcome
        except BaseException:
            if writer is not None:
                writer.discard()
            raise
        progress.done = count
        if on_numbers is not None and len(numbers) > sent:
            on_numbers([n for n, _b, _r in numbers[sent:]])
        file_errors = []
        for index in sorted(untitled_with_data):
            letter = rules.column_letter(index)
            file_errors.append({"row": 1, "column": letter, "field": None, "cell": f"{letter}1",
                                "code": "column_title_missing",
                                "message": rules.message("column_title_missing", letter=letter)})
        for err in header_errors:
            title = err.get("column")
            index = next((i for i, v in enumerate(header)
                          if title and colspec.title_key(v) == colspec.title_key(title)),
                         None)
            err["cell"] = f"{rules.column_letter(index)}1" if index is not None else None
        file_errors = header_errors + file_errors
        if count == 0 and not file_errors:
            file_errors.append({**rules.no_rows_error(), "cell": None})
        if file_errors:
            merged = _Errors(max_errors)
            merged.extend(file_errors)
            merged.extend(errors.items)
            merged.count += errors.count - len(errors.items)
            errors = merged
        outcome.rows = count
        outcome.errors = errors.items
        outcome.error_count = errors.count
        if writer is not None:
            if errors.count:
                writer.discard()
            else:
                writer.commit()
        return outcome
    finally:
        wb.close()


def read_cells(path, sheet_name):
    """Every row of the sheet (row number, cells) for the report."""
    wb, sheet = open_sheet(path, sheet_name)
    try:
        yield from sheet_rows(sheet)
    finally:
        wb.close()
