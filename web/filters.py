"""How values read on a page: dates as dd-mm-jjjj, statuses and codes in Dutch."""
import datetime as dt
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from services.common.fields import FIELDS

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

UPLOAD_STATUS = {
    "validating": "Wordt gecontroleerd", "rejected": "Afgekeurd (fouten)",
    "awaiting_review": "Wacht op beoordeling", "declined": "Afgewezen",
    "loading": "Wordt ingeladen", "loaded": "Ingeladen", "load_failed": "Inladen mislukt",
}
STUDENT_TYPE = {"potential_transfer": "Potentiële overstapper",
                "non_transfer": "Niet-overstapper"}
SCHOOL_TYPE = {"vo": "Voortgezet Onderwijs", "mbo": "Middelbaar Beroepsonderwijs"}
SOURCE = {"portal": "Portaal", "public": "Uploadcode"}
GENDER = {"M": "Man", "V": "Vrouw", "X": "Anders / onbekend"}
ROLE = {"helpdesk": "Helpdesk", "admin": "Beheerder", "scheduler": "Roostermaker",
        "mentor": "Mentor", "student": "Leerling"}
IMPORT_STATUS = {"uploaded": "Ingelezen", "previewed": "Voorvertoning klaar",
                 "committing": "Wordt doorgevoerd", "committed": "Doorgevoerd",
                 "failed": "Mislukt", "undone": "Ongedaan gemaakt"}
IMPORT_KIND = {"users": "Gebruikers", "participations": "Afdelingsdeelnames"}
IMPORT_MODE = {"import": "Importeren", "update": "Bijwerken", "sync": "Synchroniseren"}
# what a preview row will do, in the manual's words
IMPORT_ACTION = {"create": "Nieuw", "update": "Bijwerken", "unchanged": "Ongewijzigd",
                 "archive": "Archiveren", "error": "Fout"}
# the fields a CSV column can be labelled with (the API's names)
IMPORTABLE = ("code", "initials", "first_name", "prefix", "last_name", "gender", "email", "street",
              "house_number", "postcode", "city", "student_number", "department", "forecast",
              "profile", "programme", "home_class", "learning_path", "lwoo")
IMPORT_FIELDS = {
    **{name: FIELDS[name].label for name in IMPORTABLE},
    "code": "Gebruikerscode (leerlingnummer)", "student_number": "Leerlingcode",
    "forecast": "Prognose (Pr%)",
}
AUTHORITY = {"portal": "Portal leidend", "desktop": "Desktop leidend"}


def _parse(value):
    if value in (None, ""):
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value
    text = str(value)
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def date_nl(value):
    """dd-mm-jjjj (a timestamp: its day in Amsterdam)."""
    parsed = _parse(value)
    if parsed is None:
        return value or ""
    if isinstance(parsed, dt.datetime):
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(AMSTERDAM)
        parsed = parsed.date()
    return parsed.strftime("%d-%m-%Y")


def datetime_nl(value):
    """dd-mm-jjjj uu:mm in Amsterdam time."""
    parsed = _parse(value)
    if not isinstance(parsed, dt.datetime):
        return date_nl(value)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(AMSTERDAM)
    return parsed.strftime("%d-%m-%Y %H:%M")


def parse_date_nl(text):
    """dd-mm-jjjj (also d-m-jjjj, / or .) or jjjj-mm-dd → date; None for empty.
    ValueError when it is no date."""
    text = (text or "").strip()
    if not text:
        return None
    for sep in ("/", "."):
        text = text.replace(sep, "-")
    parts = text.split("-")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(text)
    if len(parts[0]) == 4:
        year, month, day = parts
    else:
        day, month, year = parts
    if len(year) != 4:
        raise ValueError(text)
    return dt.date(int(year), int(month), int(day))


def full_name(person):
    person = person or {}
    parts = [person.get("first_name"), person.get("prefix"), person.get("last_name")]
    return " ".join(p for p in parts if p)


def number(value):
    if value is None:
        return ""
    return f"{int(value):,}".replace(",", ".")


def shown(value):
    """A value as a cell shows it: empty for None, ja/nee for booleans, a list
    joined."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, (list, tuple)):
        return ", ".join(shown(v) for v in value)
    return str(value)


def query(base, **params):
    """A link to `base` with the non-empty params."""
    clean = {k: v for k, v in params.items() if v not in (None, "")}
    return base + ("?" + urlencode(clean) if clean else "")


def install(env):
    env.filters.update(
        date_nl=date_nl, datetime_nl=datetime_nl, full_name=full_name, number=number,
        upload_status=lambda s: UPLOAD_STATUS.get(s, s or ""),
        student_type=lambda s: STUDENT_TYPE.get(s, s or ""),
        school_type=lambda s: SCHOOL_TYPE.get(s, (s or "").upper()),
        source=lambda s: SOURCE.get(s, s or ""),
        gender=lambda s: GENDER.get(s, s or ""),
        role=lambda s: ROLE.get(s, s or ""),
        import_status=lambda s: IMPORT_STATUS.get(s, s or ""),
        import_kind=lambda s: IMPORT_KIND.get(s, s or ""),
        import_mode=lambda s: IMPORT_MODE.get(s, s or ""),
        import_action=lambda s: IMPORT_ACTION.get(s, s or ""),
        field_label=lambda s: IMPORT_FIELDS.get(s, s or ""),
        authority=lambda s: AUTHORITY.get(s, s or ""),
        shown=shown,
    )
    env.globals.update(query=query, UPLOAD_STATUS=UPLOAD_STATUS, STUDENT_TYPE=STUDENT_TYPE,
                       SCHOOL_TYPE=SCHOOL_TYPE)
