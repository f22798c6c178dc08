"""Reading a CSV export of the student administration, as pure functions:
encoding detection (UTF-8 with or without BOM, else charset-normalizer, e.g.
Windows-1252), delimiter sniffing (tab, ';', ','), quoted fields with
delimiters and line breaks inside, and a suggested field for each column
(Dutch titles, English titles, the names of Zermelo's exports)."""
import codecs
import csv
import difflib
import io
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

from services.common.errors import DomainError, error_item

DELIMITERS = {"tab": "\t", "\t": "\t", ";": ";", ",": ","}
DELIMITER_NAMES = {"\t": "tab", ";": ";", ",": ","}

USER_FIELDS = ("code", "initials", "first_name", "prefix", "last_name", "gender", "email",
               "street", "house_number", "postcode", "city")
PARTICIPATION_FIELDS = ("student_number", "department", "forecast", "profile", "programme",
                        "home_class", "learning_path", "lwoo")
FIELDS = {"users": USER_FIELDS, "participations": PARTICIPATION_FIELDS}

_ALIASES = {
    "users": {
        "code": ["code", "gebruikerscode", "gebruiker", "leerlingnummer", "leerlingcode",
                 "llnr", "llnummer", "studentnumber", "studentcode", "usercode", "username",
                 "stamnummer"],
        "initials": ["voorletters", "initials", "initialen"],
        "first_name": ["voornaam", "roepnaam", "firstname", "givenname", "forename"],
        "prefix": ["tussenvoegsel", "tussenvoegsels", "voorvoegsel", "prefix",
                   "lastnameprefix", "infix"],
        "last_name": ["achternaam", "lastname", "surname", "familyname", "naam"],
        "gender": ["geslacht", "gender", "sex"],
        "email": ["email", "emailadres", "mail", "emailaddress", "mailadres"],
        "street": ["straat", "straatnaam", "street", "streetname", "adres"],
        "house_number": ["huisnummer", "huisnr", "housenumber", "number", "nr"],
        "postcode": ["postcode", "zipcode", "zip", "postalcode"],
        "city": ["woonplaats", "plaats", "city", "town", "residence"],
    },
    "participations": {
        "student_number": ["leerlingcode", "leerlingnummer", "leerling", "student", "code",
                           "studentcode", "studentnumber", "llnr", "gebruikerscode", "user"],
        "department": ["afdeling", "department", "departmentofbranch",
                       "departmentofbranchcode", "afdelingscode"],
        "forecast": ["prognose", "pr", "pr%", "forecast", "prognosepercentage"],
        "profile": ["profiel", "profile"],
        "programme": ["opleiding", "programme", "program", "education", "studyprogramme"],
        "home_class": ["stamklas", "klas", "homeclass", "maingroup", "basisgroep", "stamgroep"],
        "learning_path": ["leerpad", "learningpath"],
        "lwoo": ["lwoo"],
    },
}


def _norm(text):
    return re.sub(r"[^0-9a-z%]", "", str(text or "").lower())


def suggest_field(kind, header):
    """The field a column title most likely means, or None."""
    key = _norm(header)
    if not key:
        return None
    aliases = _ALIASES[kind]
    for field, names in aliases.items():
        if key in names:
            return field
    flat = {name: field for field, names in aliases.items() for name in names}
    match = difflib.get_close_matches(key, list(flat), n=1, cutoff=0.85)
    return flat[match[0]] if match else None


def suggest_all(kind, headers):
    """One suggestion per column; a field is suggested for its first column only."""
    taken, out = set(), []
    for header in headers:
        field = suggest_field(kind, header)
        if field in taken:
            field = None
        if field:
            taken.add(field)
        out.append(field)
    return out


def _bad(status, code, message, field="file"):
    return DomainError(code, message, status=status, field=field,
                       errors=[error_item(code, message, field=field)])


def decode(content: bytes, encoding=None):
    """(text, encoding name)."""
    not_text = _bad(415, "not_csv", "Het bestand is geen tekstbestand (CSV). Sla het op als "
                                    "CSV (tab- of puntkommagescheiden).")
    if content.startswith((b"PK\x03\x04", b"%PDF", b"\xd0\xcf\x11\xe0")):
        raise not_text
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise _bad(422, "encoding_invalid", f"Onbekende tekenset: {encoding}.",
                       field="encoding") from None
        try:
            return content.decode(encoding), encoding
        except UnicodeDecodeError:
            raise _bad(422, "encoding_invalid", f"Het bestand is niet in tekenset {encoding} "
                       "geschreven.", field="encoding") from None
    if content.startswith(codecs.BOM_UTF8):
        return content[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace"), "utf-8-sig"
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return content.decode("utf-16"), "utf-16"
    if b"\x00" in content[:4096]:
        raise not_text
    try:
        return content.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # The administrations' Windows exports: Windows-1252 decodes all but five
    # byte values, so try it before guessing (charset-normalizer guesses wildly
    # on short files: a few accented names may look like Korean Johab to it).
    try:
        return content.decode("windows-1252"), "windows-1252"
    except UnicodeDecodeError:
        pass
    best = from_bytes(content[:1 << 20]).best()
    name = best.encoding if best is not None else "latin-1"
    try:
        return content.decode(name), name
    except (UnicodeDecodeError, LookupError):
        return content.decode("latin-1"), "latin-1"


def sniff_delimiter(text):
    """The delimiter whose split gives the most consistent number of columns
    (more than one) over the first lines; tab wins ties, then ';', then ','."""
    sample = text[:65536]
    cut = sample.rfind("\n")
    if cut > 0 and len(text) > len(sample):
        sample = sample[:cut]
    best, best_score = "\t", -1.0
    for delim in ("\t", ";", ","):
        try:
            rows = [r for r in csv.reader(io.StringIO(sample), delimiter=delim) if any(r)][:50]
        except csv.Error:
            continue
        if not rows:
            continue
        widths = [len(r) for r in rows]
        mode = max(set(widths), key=widths.count)
        if mode < 2:
            continue
        score = widths.count(mode) / len(widths) + mode / 1000
        if score > best_score:
            best, best_score = delim, score
    return best


@dataclass
class CsvTable:
    headers: list
    rows: list        # (record number, [values]) ; the header is record 1
    delimiter: str
    encoding: str


def parse(content: bytes, delimiter=None, encoding=None, max_rows=100_000,
          head=None) -> CsvTable:
    """The table; with `head`, only the first `head` data rows (a sample)."""
    text, enc = decode(content, encoding)
    if delimiter is not None:
        if delimiter not in DELIMITERS:
            raise _bad(422, "delimiter_invalid", "Kies als scheidingsteken tab, ; of ,.",
                       field="delimiter")
        delim = DELIMITERS[delimiter]
    else:
        delim = sniff_delimiter(text)
    try:
        records = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
        headers, rows = None, []
        for number, record in enumerate(records, 1):
            if headers is None:
                if not any(v.strip() for v in record):
                    continue
                headers = [v.strip() for v in record]
                header_number = number
                continue
            if not any(v.strip() for v in record):
                continue
            rows.append((number - header_number + 1, [v.strip() for v in record]))
            if head is not None and len(rows) >= head:
                break
            if len(rows) > max_rows:
                raise _bad(422, "too_many_rows", f"Het bestand heeft meer dan {max_rows} "
                                                 "regels.")
    except csv.Error:
        raise _bad(422, "csv_invalid", "Het bestand is geen geldig CSV-bestand (controleer de "
                                       "aanhalingstekens).") from None
    if headers is None:
        raise _bad(422, "no_rows", "Het bestand is leeg.")
    return CsvTable(headers=headers, rows=rows, delimiter=delim, encoding=enc)
