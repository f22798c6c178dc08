"""The door of the student-list upload: is this a real .xlsx, and a safe one?

Runs on the raw bytes before anything parses the sheet:

- size above the limit → 413 `file_too_large`;
- an .xls (OLE2), a PDF, a text/CSV file or any other non-zip renamed to
  .xlsx → 415 `not_xlsx` (`xls_not_supported` for .xls);
- a workbook with macros (.xlsm/.xlsb content types, vbaProject.bin) → 415
  `macros_not_allowed`;
- a zip that expands more than `max_ratio` times its size, or past
  `max_expanded` bytes, or holds absurdly many members → 413 `zip_bomb`;
- more data rows than `max_rows` → 422 `too_many_rows` (counted by streaming
  the sheet XML: rows with at least one value);
- no visible worksheet → 422 `sheet_missing`.

Pure functions on bytes; nothing here touches a database or the broker.
"""
import io
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass, field

from defusedxml import ElementTree as SafeET

from services.common.errors import DomainError, error_item

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
XLSX_MAIN_TYPES = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
)
MAX_MEMBERS = 2000
MAX_SMALL_PART = 5 * 1024 * 1024  # workbook.xml, rels, content types


@dataclass
class Limits:
    max_bytes: int = 20 * 1024 * 1024
    max_rows: int = 100_000
    max_ratio: float = 100.0
    max_expanded: int = 400 * 1024 * 1024


@dataclass
class WorkbookInfo:
    sheet_name: str
    sheet_path: str
    data_rows: int                      # rows with a value, header excluded
    hidden_sheets: list = field(default_factory=list)
    expanded_bytes: int = 0


def _reject(status, code, message):
    return DomainError(code, message, status=status, field="file",
                       errors=[error_item(code, message, field="file")])


def too_large(limit):
    mb = limit / (1024 * 1024)
    shown = f"{mb:.0f}" if mb >= 1 else f"{mb:.2f}"
    return _reject(413, "file_too_large", f"Het bestand is te groot (maximaal {shown} MB).")


def not_xlsx(detail="Het bestand is geen Excel-werkmap (.xlsx)."):
    return _reject(415, "not_xlsx", detail + " Gebruik het .xlsx-format van de download.")


def check_size(size, limits: Limits):
    if size > limits.max_bytes:
        raise too_large(limits.max_bytes)


def sniff(data: bytes) -> str:
    head = data[:8]
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole2"
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"PK\x05\x06"):
        return "empty_zip"
    sample = data[:4096]
    if sample and b"\x00" not in sample:
        return "text"
    return "unknown"


def _read_small(zf, name):
    info = zf.getinfo(name)
    if info.file_size > MAX_SMALL_PART:
        raise _reject(413, "zip_bomb", "Het bestand bevat een onderdeel dat verdacht groot is.")
    return zf.read(name)


def _content_types(zf):
    try:
        root = SafeET.fromstring(_read_small(zf, "[Content_Types].xml"))
    except KeyError:
        raise not_xlsx() from None
    except (SafeET.ParseError, ValueError, Exception) as exc:
        if isinstance(exc, DomainError):
            raise
        raise not_xlsx() from None
    overrides = {}
    for el in root:
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "Override":
            overrides[el.get("PartName", "").lstrip("/")] = el.get("ContentType", "")
    return overrides


def _sheets(zf):
    """[(name, state, target path)] of the workbook's worksheets, in order."""
    try:
        wb = SafeET.fromstring(_read_small(zf, "xl/workbook.xml"))
        rels = SafeET.fromstring(_read_small(zf, "xl/_rels/workbook.xml.rels"))
    except KeyError:
        raise not_xlsx() from None
    except DomainError:
        raise
    except Exception:
        raise not_xlsx("De werkmap is beschadigd.") from None
    targets = {}
    for rel in rels:
        target = rel.get("Target", "")
        if target.startswith("/"):
            path = target.lstrip("/")
        else:
            path = posixpath.normpath(posixpath.join("xl", target))
        targets[rel.get("Id")] = path
    sheets = []
    sheets_el = wb.find(f"{{{MAIN_NS}}}sheets")
    for el in (sheets_el if sheets_el is not None else []):
        rid = el.get(f"{{{REL_NS}}}id")
        sheets.append((el.get("name", ""), el.get("state", "visible"), targets.get(rid)))
    return sheets


_CLOSE_ROW = re.compile(rb"</(?:\w+:)?row>")
_VALUE = re.compile(rb"<(?:\w+:)?(?:v|is)>")


def count_value_rows(zf, path, stop_after):
    """Rows of a sheet holding at least one value, streamed; stops counting
    past `stop_after` (enough to know the limit is exceeded). The text between
    two row closings is one row (plus empty self-closed rows), so a segment
    with a value tag is one row with a value."""
    count = 0
    tail = b""
    with zf.open(path) as stream:
        while True:
            chunk = stream.read(1 << 20)
            buf = tail + chunk
            if chunk:
                last = None
                for last in _CLOSE_ROW.finditer(buf):
                    pass
                if last is None:
                    tail = buf
                    if len(tail) > 64 * 1024 * 1024:  # one absurd row
                        raise _reject(413, "zip_bomb",
                                      "Het werkblad heeft een verdacht grote rij.")
                    continue
                body, tail = buf[:last.end()], buf[last.end():]
            else:
                body, tail = buf, b""
            for segment in _CLOSE_ROW.split(body):
                if _VALUE.search(segment):
                    count += 1
            if count > stop_after or not chunk:
                return count


_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="[A-Z]+\d+(?::[A-Z]+(\d+))?"')


def dimension_last_row(zf, path):
    """The last row of the sheet's declared used range (<dimension ref=...>),
    read from the sheet's first bytes; None when absent."""
    with zf.open(path) as stream:
        head = stream.read(4096)
    m = _DIMENSION.search(head)
    if not m:
        return None
    return int(m.group(1)) if m.group(1) else 1


def inspect_xlsx(data: bytes, limits: Limits) -> WorkbookInfo:
    check_size(len(data), limits)
    kind = sniff(data)
    if kind == "ole2":
        raise _reject(415, "xls_not_supported",
                      "Dit is een oud Excel-bestand (.xls). Sla het op als Excel-werkmap "
                      "(.xlsx) en stuur het opnieuw op.")
    if kind == "pdf":
        raise not_xlsx("Het bestand is een PDF, geen Excel-werkmap (.xlsx).")
    if kind == "text":
        raise not_xlsx("Het bestand is een tekstbestand (bijvoorbeeld CSV), geen Excel-werkmap "
                       "(.xlsx).")
    if kind != "zip":
        raise not_xlsx()
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise not_xlsx("Het bestand is beschadigd of geen Excel-werkmap (.xlsx).") from None
    if len(infos) > MAX_MEMBERS:
        raise _reject(413, "zip_bomb", "Het bestand bevat verdacht veel onderdelen.")
    expanded = sum(i.file_size for i in infos)
    if expanded > limits.max_expanded or expanded > limits.max_ratio * max(len(data), 1):
        raise _reject(413, "zip_bomb",
                      "Het bestand pakt uit tot een verdacht grote omvang "
                      f"({expanded // (1024 * 1024)} MB); het wordt niet verwerkt.")
    for info in infos:
        if info.file_size > 1024 * 1024 and \
                info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise _reject(413, "zip_bomb",
                          "Het bestand bevat een onderdeel dat verdacht sterk is ingepakt; het "
                          "wordt niet verwerkt.")
    names = {i.filename for i in infos}
    types = _content_types(zf)
    main_type = types.get("xl/workbook.xml", "")
    if "xl/vbaProject.bin" in names or "macroEnabled" in main_type or \
            any("vbaProject" in t for t in types.values()):
        raise _reject(415, "macros_not_allowed",
                      "De werkmap bevat macro's (.xlsm). Sla hem op als Excel-werkmap zonder "
                      "macro's (.xlsx) en stuur hem opnieuw op.")
    if "xl/workbook.xml" not in names or main_type not in XLSX_MAIN_TYPES:
        raise not_xlsx()
    sheets = _sheets(zf)
    visible = [s for s in sheets if s[1] == "visible" and s[2] in names]
    hidden = [s[0] for s in sheets if s[1] != "visible"]
    if not visible:
        raise DomainError("sheet_missing", "De werkmap heeft geen zichtbaar werkblad.",
                          status=422, field="file",
                          errors=[error_item("sheet_missing",
                                             "De werkmap heeft geen zichtbaar werkblad.",
                                             field="file")])
    chosen = next((s for s in visible if s[0].strip().lower() == "leerlingen"), visible[0])
    try:
        last = dimension_last_row(zf, chosen[2])
        if last is not None and last <= limits.max_rows + 1:
            # the declared used range is within the limit: count only for the
            # progress total (a lying dimension is caught while parsing)
            rows = last
        else:
            rows = count_value_rows(zf, chosen[2], limits.max_rows + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError):
        raise not_xlsx("Het bestand is beschadigd.") from None
    data_rows = max(rows - 1, 0)
    if data_rows > limits.max_rows:
        msg = (f"Het bestand heeft meer dan {limits.max_rows} rijen met leerlingen; splits de "
               f"lijst in delen van hoogstens {limits.max_rows} rijen.")
        raise DomainError("too_many_rows", msg, status=422, field="file",
                          errors=[error_item("too_many_rows", msg, field="file")])
    return WorkbookInfo(sheet_name=chosen[0], sheet_path=chosen[2], data_rows=data_rows,
                        hidden_sheets=hidden, expanded_bytes=expanded)
