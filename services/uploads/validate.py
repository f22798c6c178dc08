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
import copy
import datetime as dt
import itertools
import mmap
import os
import pickle
import signal
import struct
from dataclasses import dataclass, field
from pathlib import Path

import python_calamine

from . import columns as colspec
from . import rules
from .storage import RowsWriter


@dataclass
class Progress:
    done: int = 0
    total: int = 0
    other: object = None  # the progress of a forked part, while it runs

    def seen(self):
        """Rows done, a forked part's included."""
        other = self.other
        return self.done + (other.done if other is not None else 0)


@dataclass
class Outcome:
    rows: int = 0
    errors: list = field(default_factory=list)
    error_count: int = 0
    numbers: list = field(default_factory=list)  # (student number, bsn, sheet row)
    part_private_mb: int | None = None  # the forked part's own memory at its end


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


def sheet_rows(sheet, first=None):
    """(sheet row number, cells) of every row (from row `first` on), the
    absolute positions kept: calamine's range starts at the first used cell."""
    start = sheet.start
    if start is None:
        return
    row0, col0 = start
    pad = [None] * col0
    rows, skip = sheet.iter_rows(), 0
    if first is not None and first > row0 + 1:
        skip = first - row0 - 1
        next(itertools.islice(rows, skip, skip), None)  # passed over without a frame per row
    for offset, cells in enumerate(rows, skip):
        yield row0 + offset + 1, (pad + cells) if col0 else cells


class TooManyRows(Exception):
    pass


# a sheet of this many rows is checked by two processes (check_file's workers)
SPLIT_ROWS = 20_000


class _SharedCount:
    """A count one process sets and another reads (a forked part's progress)."""

    def __init__(self):
        self.cell = mmap.mmap(-1, 8)

    @property
    def done(self):
        return struct.unpack_from("q", self.cell)[0]

    @done.setter
    def done(self, value):
        struct.pack_into("q", self.cell, 0, value)


class _Scan:
    """One pass over rows: the rows with data counted, untitled columns with
    data noted, each row checked; the clean rows to `writer`, their numbers
    kept (and handed to `on_numbers` in chunks). `second`: the later part of
    a sheet split over two processes, whose duplicates the first part's
    process checks afterwards: it keeps the keys of every row it checked."""

    def __init__(self, header, titled, checker, positions, max_errors, max_rows, writer,
                 on_numbers=None, numbers_chunk=5000, second=False):
        self.header_width = len(header)
        self.untitled = [i for i in range(len(header)) if i not in titled]
        self.checker, self.positions, self.max_rows = checker, positions, max_rows
        self.writer, self.on_numbers, self.numbers_chunk = writer, on_numbers, numbers_chunk
        self.second = second
        self.count = 0
        self.untitled_with_data = set()
        self.errors = _Errors(max_errors)
        self.numbers = []
        self.keys = []  # second: (row, student number, bsn, onderwijsnummer, had errors)
        self.sent = 0

    def run(self, rows, progress):
        blank, untitled, header_width = rules.blank, self.untitled, self.header_width
        untitled_with_data, max_rows = self.untitled_with_data, self.max_rows
        errors, numbers, keys, positions = self.errors, self.numbers, self.keys, self.positions
        checker, second = self.checker, self.second
        check = None if checker is None else checker.check_fields if second else checker.check
        write = self.writer.write if self.writer is not None else None
        count = self.count
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
                if not count & 63:
                    progress.done = count
                if max_rows is not None and count > max_rows:
                    raise TooManyRows(max_rows)
                if check is None:
                    continue
                clean, row_errors = check(rownum, cells)
                if second:
                    keys.append((rownum, clean["student_number"], clean.get("bsn"),
                                 clean.get("onderwijsnummer"), bool(row_errors)))
                if row_errors:
                    for err in row_errors:
                        err["cell"] = _cell_ref(err, positions)
                    errors.extend(row_errors)
                    continue
                numbers.append((clean["student_number"], clean.get("bsn"), rownum))
                if not errors.count:
                    write(clean)
                if self.on_numbers is not None and len(numbers) - self.sent >= \
                        self.numbers_chunk:
                    self.send_numbers()
        finally:
            self.count = progress.done = count

    def later_part(self, writer):
        """A scan of the later part of the sheet, its clean rows to `writer`."""
        part = copy.copy(self)
        part.writer, part.second, part.max_rows = writer, True, None
        part.count, part.untitled_with_data, part.sent = 0, set(), 0
        part.errors, part.numbers, part.keys = _Errors(self.errors.cap), [], []
        return part

    def send_numbers(self):
        if self.on_numbers is not None and len(self.numbers) > self.sent:
            self.on_numbers([n for n, _b, _r in self.numbers[self.sent:]])
            self.sent = len(self.numbers)

    def merge(self, second):
        """Take in the later part's findings (a dict of its fields), checking
        its rows' duplicates against this part's."""
        self.count += second["count"]
        self.untitled_with_data |= second["untitled_with_data"]
        dirty, duplicates = set(), []
        checker = self.checker
        numbers, bsns, onrs = checker.first_number, checker.first_bsn, checker.first_onr
        for rownum, number, bsn, onr, had_errors in second["keys"]:
            if not (number in numbers or bsn in bsns or onr in onrs):
                # seen first here (duplicates() would only note them): the common case
                if number is not None:
                    numbers[number] = rownum
                if bsn is not None:
                    bsns[bsn] = rownum
                if onr is not None:
                    onrs[onr] = rownum
                continue
            found = []
            checker.duplicates(rownum, {"student_number": number, "bsn": bsn,
                                        "onderwijsnummer": onr}, found)
            for err in found:
                err["cell"] = _cell_ref(err, self.positions)
            duplicates += found
            if found and not had_errors:
                dirty.add(rownum)
        # a row's duplicates come after its own errors, as check() gives them
        ordered = sorted([(e["row"], 0, i, e) for i, e in enumerate(second["errors"])]
                         + [(e["row"], 1, i, e) for i, e in enumerate(duplicates)],
                         key=lambda t: t[:3])
        self.errors.extend([t[3] for t in ordered])
        self.errors.count += second["error_count"] - len(second["errors"])
        self.numbers += [n for n in second["numbers"] if n[2] not in dirty]


def _start_second(sheet, split, scan, rows_path):
    """Fork a process that checks the sheet's rows from row `split` on;
    (pid, pipe of its findings, its clean rows file, its progress)."""
    shared = _SharedCount()
    part_path = rows_path.with_name(f".{rows_path.name}.{os.getpid()}.part")
    read_end, write_end = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid:
        os.close(write_end)
        return pid, read_end, part_path, shared
    status = 1
    try:  # the forked process: never returns
        die_with_parent(parent)
        os.close(read_end)
        writer = RowsWriter(part_path)
        part = scan.later_part(writer)
        part.run(sheet_rows(sheet, split), shared)
        part.send_numbers()
        if part.errors.count:
            writer.discard()
        else:
            writer.commit()
        with os.fdopen(write_end, "wb") as out:
            out.write(pickle.dumps({
                "count": part.count, "untitled_with_data": part.untitled_with_data,
                "errors": part.errors.items, "error_count": part.errors.count,
                "numbers": part.numbers, "keys": part.keys, "private_mb": _private_mb()}))
        status = 0
    finally:
        os._exit(status)


def die_with_parent(parent_pid):
    """Linux: this (forked) process gets SIGKILL when its parent dies, so the
    later part of a check that the service gave up on (killed at its timeout)
    stops with it instead of writing on; exits at once when the parent is
    already gone."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return
    if os.getppid() != parent_pid:
        os._exit(1)


def _private_mb():
    """This process's own memory (not shared with its parent), in MB."""
    try:
        with open("/proc/self/smaps_rollup") as fh:
            kb = sum(int(line.split()[1]) for line in fh if line.startswith("Private_"))
        return kb // 1024
    except OSError:  # pragma: no cover - not Linux
        return None


def _join_second(pid, read_end):
    """The forked part's findings; RuntimeError when it failed."""
    with os.fdopen(read_end, "rb") as findings:
        data = findings.read()
    _pid, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        raise RuntimeError(f"the second part of the check failed ({status})")
    return pickle.loads(data)


def _stop_second(pid, read_end):
    os.close(read_end)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def check_file(path, school_type, student_type, sheet_name, rows_path, max_errors,
               progress=None, today=None, max_rows=None, on_numbers=None,
               numbers_chunk=5000, workers=1, split_rows=None) -> Outcome:
    """`on_numbers(list)` gets the student numbers of the clean rows in chunks
    of `numbers_chunk` as they are found (the caller looks them up meanwhile),
    the last chunk before this returns. `workers=2`: a sheet of `split_rows`
    (SPLIT_ROWS) rows or more is checked in two halves, the later one in a forked process
    (which calls `on_numbers` too: let it write to a file descriptor), its
    duplicates checked against the first half's afterwards; the outcome is
    the same as one process's."""
    progress = progress or Progress()
    cols = colspec.columns(school_type, student_type)
    outcome = Outcome()
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
        checker = None if header_errors else rules.RowChecker(
            school_type, student_type, positions, today or dt.date.today())
        writer = RowsWriter(rows_path) if checker else None
        scan = _Scan(header, titled, checker, positions, max_errors, max_rows, writer,
                     on_numbers, numbers_chunk)
        if pending is not None:
            rows = itertools.chain((pending,), rows)
        second = part_path = None
        split_rows = SPLIT_ROWS if split_rows is None else split_rows
        if workers > 1 and checker is not None and (sheet.height or 0) >= split_rows:
            split = sheet.start[0] + 1 + sheet.height // 2  # the later part's first row
            pid, read_end, part_path, progress.other = _start_second(sheet, split, scan,
                                                                     Path(rows_path))
            second = (pid, read_end)
            rows = itertools.takewhile(lambda row: row[0] < split, rows)
        try:
            scan.run(rows, progress)
            scan.send_numbers()
            if second is not None:
                found, second = _join_second(*second), None
                scan.merge(found)
                outcome.part_private_mb = found.get("private_mb")
                if max_rows is not None and scan.count > max_rows:
                    raise TooManyRows(max_rows)
        except TooManyRows:
            if writer is not None:
                writer.discard()
            msg = (f"Het bestand heeft meer dan {max_rows} rijen met leerlingen; splits de "
                   f"lijst in delen van hoogstens {max_rows} rijen.")
            outcome.rows = min(scan.count, max_rows + 1) - 1
            outcome.errors = [{"row": None, "column": None, "field": "file", "cell": None,
                               "code": "too_many_rows", "message": msg}]
            outcome.error_count = 1
            outcome.numbers = []
            return outcome
        except BaseException:
            if writer is not None:
                writer.discard()
            raise
        finally:
            progress.other = None
            if second is not None:  # this part stopped early
                _stop_second(*second)
        count, errors = scan.count, scan.errors
        progress.done = count
        file_errors = []
        for index in sorted(scan.untitled_with_data):
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
        outcome.numbers = scan.numbers
        if writer is not None:
            if errors.count:
                writer.discard()
            else:
                writer.commit(append=part_path)
        return outcome
    finally:
        if part_path is not None:
            part_path.unlink(missing_ok=True)
        wb.close()


def read_cells(path, sheet_name):
    """Every row of the sheet (row number, cells) for the report."""
    wb, sheet = open_sheet(path, sheet_name)
    try:
        yield from sheet_rows(sheet)
    finally:
        wb.close()
