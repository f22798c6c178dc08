"""Makes student lists (and hostile files) for the uploads tests and the bench."""
import datetime as dt
import io
import random
import zipfile

from openpyxl import Workbook, load_workbook

from services.uploads import columns as colspec
from services.uploads.templates import build_template


def bsn_from(prefix8: int) -> str | None:
    """A valid 9-digit BSN whose first 8 digits are `prefix8` (None if none fits)."""
    digits = f"{prefix8:08d}"
    total = sum((9 - i) * int(d) for i, d in enumerate(digits))
    last = total % 11
    if last == 10:
        return None
    return digits + str(last)


def bsns(count, start=10_000_000, leading_zero=False):
    """`count` distinct valid BSNs (with a leading zero when asked)."""
    out, n = [], (start if not leading_zero else 2_035_588)
    while len(out) < count:
        value = bsn_from(n)
        n += 1
        if value and (not leading_zero or value.startswith("0")):
            out.append(value)
    return out


def onderwijsnummer(n=0) -> str:
    k = 0
    while True:
        digits = f"10{(n * 37 + k) % 1000000:06d}"
        total = sum((9 - i) * int(d) for i, d in enumerate(digits))
        for last in range(10):
            if (total - last) % 11 == 5:
                return digits + str(last)
        k += 1


FIRST = ("Daan", "Emma", "Sem", "Julia", "Lucas", "Mila", "Finn", "Tess", "Levi", "Sara")
LAST = ("Berg", "Jansen", "Visser", "Smit", "Bakker", "Meijer", "Mulder", "Bos", "Vos", "Dekker")


def student_row(i, school_type="vo", student_type="potential_transfer", bsn=None,
                number=None):
    """A valid row as {title: value} for the template's columns."""
    rng = random.Random(i)
    track = colspec.VO_TRACKS[i % 6] if school_type == "vo" else colspec.MBO_TRACKS[i % 8]
    values = {
        "Leerlingnummer": number or str(100000 + i),
        "BSN": bsn if bsn is not None else bsns(1, start=10_000_000 + i * 13)[0],
        "Onderwijsnummer": None,
        "Voorletters": FIRST[i % 10][0] + ".",
        "Voornaam": FIRST[i % 10],
        "Tussenvoegsel": "van der" if i % 7 == 0 else None,
        "Achternaam": LAST[(i // 10) % 10] + (str(i) if i > 99 else ""),
        "Geboortedatum": dt.date(2008, 1, 1) + dt.timedelta(days=rng.randrange(0, 1500)),
        "Geslacht": "MVX"[i % 3],
        "E-mailadres": f"leerling{i}@school.nl",
        "Straat": "Hoofdstraat",
        "Huisnummer": str(1 + i % 300),
        "Postcode": "7311 BA",
        "Woonplaats": "Apeldoorn",
        "Klas": f"4h{1 + i % 3}",
        "Leerjaar": 1 + i % 4,
        "Leerweg": track,
        "Leerweg/Niveau": track,
        "Afdeling": None,
    }
    titles = [c.title for c in colspec.columns(school_type, student_type)]
    return {t: values.get(t) for t in titles}


def make_list(rows, school_type="vo", student_type="potential_transfer", titles=None,
              from_template=True, extra=None):
    """An .xlsx (bytes) with `rows` ({title: value} dicts, or lists in title
    order) on sheet Leerlingen; built on the real template unless asked not to.
    `extra(wb, ws)` may change the workbook before it is saved."""
    titles = titles or [c.title for c in colspec.columns(school_type, student_type)]
    if from_template:
        wb = load_workbook(io.BytesIO(build_template(school_type, student_type)))
        ws = wb[colspec.SHEET_TITLE]
        for index, title in enumerate(titles, 1):
            ws.cell(row=1, column=index, value=title)
        for index in range(len(titles) + 1, ws.max_column + 1):
            ws.cell(row=1, column=index, value=None)
    else:
        wb = Workbook()
        ws = wb.active
        ws.title = colspec.SHEET_TITLE
        ws.append(titles)
    for r, row in enumerate(rows, 2):
        values = [row.get(t) for t in titles] if isinstance(row, dict) else list(row)
        for c, value in enumerate(values, 1):
            if value is not None:
                cell = ws.cell(row=r, column=c, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"  # typed into a text cell: text, even "=..."
    if extra is not None:
        extra(wb, ws)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def make_big_list(count, school_type="vo", student_type="potential_transfer", path=None,
                  department=None):
    """A generated list of `count` valid rows, written fast (write-only); with
    `department`, every row placed in that department (column Afdeling)."""
    titles = [c.title for c in colspec.columns(school_type, student_type)]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(colspec.SHEET_TITLE)
    ws.append(titles)
    numbers = bsns(count)
    for i in range(count):
        row = student_row(i, school_type, student_type, bsn=numbers[i])
        if department is not None:
            row["Afdeling"] = department
        ws.append([row[t] for t in titles])
    target = path or io.BytesIO()
    wb.save(target)
    return None if path else target.getvalue()


def zip_bomb(expanded=300 * 1024 * 1024):
    """An .xlsx-shaped zip whose sheet expands `expanded` bytes from a few hundred KB."""
    base = make_list([student_row(1)])
    src = zipfile.ZipFile(io.BytesIO(base))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</worksheet>", b"<!--" + b" " * expanded + b"--></worksheet>")
            dst.writestr(info.filename, data)
    return out.getvalue()


def with_macros():
    """A workbook that carries a VBA project (.xlsm renamed to .xlsx)."""
    base = make_list([student_row(1)])
    src = zipfile.ZipFile(io.BytesIO(base))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "[Content_Types].xml":
                data = data.replace(
                    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
                data = data.replace(b"</Types>", b'<Default Extension="bin" ContentType='
                                    b'"application/vnd.ms-office.vbaProject"/></Types>')
            dst.writestr(info.filename, data)
        dst.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    return out.getvalue()


XLS_HEADER = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
CSV = "Leerlingnummer;BSN;Voornaam\n123;020355889;Daan\n".encode()
