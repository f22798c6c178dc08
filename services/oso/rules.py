"""Rules of the oso domain: pure functions, no database, no broker.

- identifiers on the worklist (BSN or onderwijsnummer),
- the delivery-point key and the BRIN it belongs to,
- the worklist spreadsheet (.xlsx with a `BSN` column),
- default actions and the merge rules (import / supplement / overwrite, the
  definitive lock),
- the student record an enrolment creates from a dossier.
"""
import copy
import io
import re
import zipfile

from services.common.ids import (IdentifierError, mask, normalize_brin, normalize_bsn,
                                 normalize_email, normalize_onderwijsnummer)

from .dossier import FINAL_TEST, SECTIONS

ACTIONS = ("import", "supplement", "overwrite", "none")
ACTION_NL = {"import": "importeren", "supplement": "aanvullen",
             "overwrite": "overschrijven", "none": "geen actie"}
SOFT_FIELDS = ("functioning", "explanation", "notes")
SOFT_MAX = 20000
MAX_XLSX_ROWS = 5000


class RuleError(Exception):
    def __init__(self, code, message, field=None):
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.field = field


# --- identifiers -----------------------------------------------------------------

def student_identifier(value):
    """(kind, number) for a BSN or an onderwijsnummer; 8-digit BSNs (Excel
    dropped the leading zero) are padded. Raises IdentifierError(bsn_invalid)."""
    try:
        return "bsn", normalize_bsn(value)
    except IdentifierError:
        pass
    try:
        number = normalize_onderwijsnummer(value)
        return "onderwijsnummer", number
    except IdentifierError:
        raise IdentifierError("bsn_invalid") from None


def identifier_message(value=None):
    return ("Dit is geen geldig BSN of onderwijsnummer (9 cijfers, 11-proef; een BSN van 8 "
            "cijfers krijgt een voorloopnul).")


# --- delivery point ---------------------------------------------------------------

# The key as Mijn OSO shows it (Aanleverpunten > Sleutel), e.g.
# 018294B0-8DE2-4269-A422-E09C320A55C1: letters, digits and hyphens.
_KEY_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{7,199}$")
# An older Leerlingbus form puts the BRIN in front: 00AB-<key> or 00AB01:<key>.
_KEY_PREFIX = re.compile(r"^([0-9]{2}[A-Za-z0-9]{2}(?:[0-9]{2})?)\s*[-:]\s*(.+)$")
KEY_INVALID_MESSAGE = (
    "De sleutel is niet geldig. Plak de sleutel van het aanleverpunt zoals Mijn OSO die "
    "toont (Aanleverpunten > Sleutel > Kopiëren), bijvoorbeeld "
    "018294B0-8DE2-4269-A422-E09C320A55C1.")


def key_brin(key):
    """(brin, key) of a delivery-point key as entered.

    The key is taken as Mijn OSO shows it (`018294B0-8DE2-…`); then brin is
    None: the key does not say which school it belongs to, and the caller uses
    the institution's BRIN. The form `<BRIN>-<key>` (or `<BRIN>:<key>`, BRIN of
    4 characters or 6 with the vestiging) is still accepted: then brin is that
    BRIN, which the caller checks against the institution's, and the key is the
    part after it. A Mijn OSO key never starts with 4 or 6 characters and a
    hyphen (its first group has 8), so the forms cannot be confused. Raises
    RuleError key_invalid (field key) for anything else."""
    text = str(key or "").strip()
    match = _KEY_PREFIX.match(text)
    if match:
        try:
            brin = normalize_brin(match.group(1))
        except IdentifierError:
            brin = None
        if brin is not None:
            secret = match.group(2).strip()
            if not _KEY_SHAPE.match(secret):
                raise RuleError("key_invalid", KEY_INVALID_MESSAGE, field="key")
            return brin, secret
    if not _KEY_SHAPE.match(text):
        raise RuleError("key_invalid", KEY_INVALID_MESSAGE, field="key")
    return None, text


def claimed_brin(value):
    """The optional `brin` field of a delivery point: None when absent or
    empty, else the normalised BRIN; RuleError brin_invalid (field brin)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise RuleError("brin_invalid", "Het veld 'brin' moet een BRIN-nummer zijn "
                        "(bijvoorbeeld 00AB of 00AB01).", field="brin")
    try:
        return normalize_brin(value)
    except IdentifierError:
        raise RuleError("brin_invalid", f"Het veld 'brin' bevat geen geldig BRIN-nummer "
                        f"({value.strip()[:10]}): twee cijfers en twee letters, eventueel "
                        f"gevolgd door twee cijfers voor de vestiging.", field="brin") from None


def source_key(stored):
    """The key to send to a dossier source: the key as Mijn OSO shows it. Keys
    registered before the BRIN prefix became optional were stored with it."""
    try:
        return key_brin(stored)[1]
    except RuleError:
        return stored


def institution_brin(institution):
    brin = (institution.get("brin") or "").upper()
    branch = institution.get("branch") or ""
    if len(brin) == 4 and branch:
        brin += branch
    return brin


def brin_matches(key_brin_value, institution):
    """A 4-character BRIN in the key fits every vestiging of that BRIN; a
    6-character one only that vestiging."""
    mine = institution_brin(institution)
    if not mine:
        return False
    if len(key_brin_value) == 4:
        return mine[:4] == key_brin_value
    return mine == key_brin_value or (len(mine) == 4 and mine == key_brin_value[:4]
                                      and not institution.get("branch"))


def delivery_point_number(value):
    text = str(value if value is not None else "").strip()
    if not text.isdigit() or len(text) > 4:
        raise RuleError("delivery_point_invalid",
                        "Het nummer van het aanleverpunt is een getal (bijvoorbeeld 1).",
                        field="number")
    return str(int(text))


def mask_key(key):
    return mask(key, keep=4) if key else key


# --- the worklist spreadsheet ------------------------------------------------------

def read_worklist_xlsx(content: bytes):
    """Rows of an .xlsx whose first row has a column titled `BSN`.

    Returns (entries, errors): entries [(row, kind, number)] in sheet order
    without duplicates; errors [{row, column, code, message}] for invalid
    numbers and repeats (the first occurrence counts)."""
    if not content[:4] == b"PK\x03\x04" or not zipfile.is_zipfile(io.BytesIO(content)):
        raise RuleError("file_type_invalid",
                        "Het bestand is geen Excel-bestand (.xlsx).", field="file")
    try:
        from openpyxl import load_workbook
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:
        raise RuleError("file_type_invalid",
                        "Het bestand kan niet als Excel-bestand (.xlsx) worden gelezen.",
                        field="file") from None
    try:
        ws = wb.worksheets[0] if wb.worksheets else None
        rows = ws.iter_rows(values_only=True) if ws is not None else iter(())
        header = next(rows, None)
        col = None
        for i, title in enumerate(header or ()):
            if isinstance(title, str) and title.strip().upper() == "BSN":
                col = i
                break
        if col is None:
            raise RuleError("bsn_column_missing",
                            "Het Excel-bestand heeft geen kolom met de titel 'BSN' in de eerste "
                            "rij.", field="file")
        entries, errors, seen = [], [], {}
        for rownum, row in enumerate(rows, start=2):
            if rownum - 1 > MAX_XLSX_ROWS:
                raise RuleError("too_many_rows",
                                f"Het bestand heeft meer dan {MAX_XLSX_ROWS} rijen.",
                                field="file")
            value = row[col] if row is not None and col < len(row) else None
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            try:
                kind, number = student_identifier(value)
            except IdentifierError:
                errors.append({"row": rownum, "column": "BSN", "code": "bsn_invalid",
                               "message": f"Rij {rownum}: {identifier_message()}"})
                continue
            if number in seen:
                errors.append({"row": rownum, "column": "BSN", "code": "duplicate",
                               "message": f"Rij {rownum}: dit nummer staat ook al in rij "
                                          f"{seen[number]}."})
                continue
            seen[number] = rownum
            entries.append((rownum, kind, number))
        return entries, errors
    finally:
        wb.close()


# --- actions and merge rules ----------------------------------------------------------

def default_action(fetched):
    """`import` for a student whose dossier was never applied, else `none`."""
    return "none" if fetched else "import"


def is_empty(value):
    """Empty for supplementing: nothing, "" or an empty list/dict. A value of
    only spaces is filled (as the OSO manual warns)."""
    return value is None or value == "" or value == [] or value == {}


def _identity(item):
    if isinstance(item, dict):
        return item.get("ref") or item.get("attachment")
    return None


def supplement(old, new, counter=None):
    """Fill only what is empty in `old` from `new`; never change a filled value."""
    counter = counter if counter is not None else [0]
    if is_empty(old):
        if not is_empty(new):
            counter[0] += 1
            return copy.deepcopy(new)
        return copy.deepcopy(old)
    if isinstance(old, dict) and isinstance(new, dict):
        out = dict(old)
        for key, value in new.items():
            out[key] = supplement(old.get(key), value, counter)
        return out
    if isinstance(old, list) and isinstance(new, list):
        keys = [_identity(i) for i in old]
        if old and all(keys):
            out = list(old)
            index = {k: n for n, k in enumerate(keys)}
            for item in new:
                k = _identity(item)
                if k in index:
                    out[index[k]] = supplement(out[index[k]], item, counter)
                elif k:
                    counter[0] += 1
                    out.append(copy.deepcopy(item))
            return out
        return list(old)
    return old


def _refs(value, found):
    if isinstance(value, dict):
        if "attachment" in value and isinstance(value["attachment"], str):
            found.add(value["attachment"])
        for v in value.values():
            _refs(v, found)
    elif isinstance(value, list):
        for v in value:
            _refs(v, found)
    return found


def attachment_refs(hard):
    return _refs({k: v for k, v in hard.items() if k != "attachments"}, set())


def merge(old, new, action, definitive=False):
    """Apply a fetched dossier's hard data to what is stored.

    Returns (hard, outcome): outcome = {"changed": [sections], "kept":
    [sections], "filled": n, "message": Dutch text}. Soft data is not part of
    `hard` and is never touched. Raises RuleError for an action that does not
    fit (import of a dossier that is already there)."""
    if action not in ACTIONS or action == "none":
        raise RuleError("action_invalid", "Onbekende actie.")
    if old is None:
        hard = copy.deepcopy(new)
        msg = "Dossier ingelezen."
        if action != "import":
            msg = (f"Dossier ingelezen (er was nog geen eerder dossier, dus "
                   f"'{ACTION_NL[action]}' heeft alles ingelezen).")
        return hard, {"changed": list(SECTIONS), "kept": [], "filled": None, "message": msg}
    if action == "import":
        raise RuleError("already_imported",
                        "Dit dossier is al eerder geïmporteerd. Kies 'aanvullen' of "
                        "'overschrijven' om het opnieuw op te halen.")
    allowed = (FINAL_TEST,) if definitive else SECTIONS
    hard = copy.deepcopy(old)
    counter = [0]
    changed = []
    for section in allowed:
        before = old.get(section)
        if action == "overwrite":
            hard[section] = copy.deepcopy(new.get(section))
        else:
            hard[section] = supplement(before, new.get(section), counter)
        if hard[section] != before:
            changed.append(section)
    # attachments: keep the metadata of every document the data still refers to
    wanted = attachment_refs(hard)
    metas = {}
    for meta in list(old.get("attachments") or []) + list(new.get("attachments") or []):
        metas.setdefault(meta["ref"], meta)
    hard["attachments"] = [m for ref, m in metas.items() if ref in wanted]
    kept = [s for s in SECTIONS if s not in allowed]
    if definitive:
        verb = "overschreven" if action == "overwrite" else "aangevuld"
        msg = (f"Het rapport is definitief: alleen de eindtoetsgegevens zijn {verb}; de "
               f"overige gegevens zijn niet gewijzigd.")
    elif action == "overwrite":
        msg = ("Alle harde gegevens zijn overschreven; de eigen aantekeningen (zachte "
               "gegevens) zijn bewaard.")
    else:
        msg = (f"Lege velden aangevuld ({counter[0]} gegevens toegevoegd); ingevulde velden "
               f"zijn niet gewijzigd.")
    return hard, {"changed": changed, "kept": kept, "filled": counter[0], "message": msg}


def clean_soft(changes, current):
    """Validated soft data (the receiving school's own notes)."""
    out = dict(current or {})
    explanations = dict(out.get("explanations") or {})
    for key, value in (changes or {}).items():
        if key == "explanations":
            if not isinstance(value, dict):
                raise RuleError("invalid", "Toelichtingen horen per onderdeel te staan.",
                                field="explanations")
            for section, text in value.items():
                if section not in SECTIONS:
                    raise RuleError("invalid", f"Onbekend onderdeel '{section}'.",
                                    field=f"explanations.{section}")
                explanations[section] = _soft_text(text, f"explanations.{section}")
            continue
        if key not in SOFT_FIELDS:
            raise RuleError("unknown_field", f"Het veld '{key}' is onbekend.", field=key)
        out[key] = _soft_text(value, key)
    out["explanations"] = {k: v for k, v in explanations.items() if v is not None}
    return out


def _soft_text(value, field):
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > SOFT_MAX:
        raise RuleError("invalid", f"Het veld '{field}' is geen tekst of is te lang.",
                        field=field)
    return value


# --- enrolment -------------------------------------------------------------------------

def student_from_dossier(hard, number_kind, number, student_number, student_type):
    """The data for students.create_student from a dossier's personal data."""
    s = hard.get("student") or {}
    email = None
    for c in s.get("communication") or []:
        if c.get("kind") == "e-mail" and c.get("value"):
            try:
                email = normalize_email(c["value"])
                break
            except IdentifierError:
                continue
    first = s.get("first_name") or ((s.get("first_names") or [None])[0])
    return {
        "student_number": student_number,
        "type": student_type,
        "bsn": number if number_kind == "bsn" else None,
        "onderwijsnummer": number if number_kind == "onderwijsnummer" else None,
        "initials": s.get("initials") or _initials(s.get("first_names") or []),
        "first_name": first,
        "prefix": s.get("prefix"),
        "last_name": s.get("last_name"),
        "date_of_birth": s.get("date_of_birth"),
        "gender": s.get("gender"),
        "email": email,
    }


def _initials(names):
    return "".join(n[0].upper() + "." for n in names if n) or None
