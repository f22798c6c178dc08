"""The columns of the student-list templates: one spec per school type (vo,
mbo) x student type (potential_transfer, non_transfer).

The upload demands exactly these column titles (docs/uploads.md lists them).
Everything here is data; templates.py writes it as .xlsx and rules.py checks
uploads against it.
"""
from dataclasses import dataclass

from services.common import fields as fieldrules

SCHOOL_TYPES = ("vo", "mbo")
STUDENT_TYPES = ("potential_transfer", "non_transfer")

SCHOOL_TYPE_NL = {"vo": "Voortgezet Onderwijs", "mbo": "Middelbaar Beroepsonderwijs"}
STUDENT_TYPE_NL = {"potential_transfer": "Potentiële overstapper",
                   "non_transfer": "Niet-overstapper"}

GENDERS = fieldrules.GENDERS
VO_TRACKS = ("vmbo-bb", "vmbo-kb", "vmbo-gl", "vmbo-tl", "havo", "vwo", "pro")
MBO_TRACKS = tuple(f"{way}-{level}" for way in ("BOL", "BBL") for level in (1, 2, 3, 4))
YEARS = {"vo": tuple(range(1, 7)), "mbo": tuple(range(1, 5))}
SHEET_TITLE = "Leerlingen"
INSTRUCTIONS_TITLE = "Instructies"


@dataclass(frozen=True)
class Column:
    title: str          # the exact Dutch column title
    field: str          # the key in the students batch RPC row
    kind: str = "text"  # text | id (digits, kept as text) | date | choice | int | email | postcode
    required: bool = False
    choices: tuple = ()
    width: int = 16
    help: str = ""

    @property
    def max_length(self):
        """The field's limit: the one table of field rules (services/common/fields.py)."""
        return fieldrules.FIELDS[self.field].max_length


def _columns(school_type, student_type):
    transfer = student_type == "potential_transfer"
    tracks = VO_TRACKS if school_type == "vo" else MBO_TRACKS
    track_title = "Leerweg" if school_type == "vo" else "Leerweg/Niveau"
    cols = [
        Column("Leerlingnummer", "student_number", "id", True, width=16,
               help="Alleen cijfers; hetzelfde nummer als in de leerlingadministratie."),
        Column("BSN", "bsn", "id", False, width=13,
               help=("Burgerservicenummer, 9 cijfers (elfproef). Verplicht voor een "
                     "potentiële overstapper, tenzij het onderwijsnummer is ingevuld."
                     if transfer else "Burgerservicenummer, 9 cijfers (elfproef); mag leeg.")),
    ]
    if transfer:
        cols.append(Column("Onderwijsnummer", "onderwijsnummer", "id", False, width=17,
                           help="Alleen invullen als de leerling geen BSN heeft: 9 cijfers, "
                                "begint met 10."))
    cols += [
        Column("Voorletters", "initials", "text", True, width=12, help="Bijvoorbeeld J.P."),
        Column("Voornaam", "first_name", "text", True, width=16),
        Column("Tussenvoegsel", "prefix", "text", False, width=14,
               help="Bijvoorbeeld van der."),
        Column("Achternaam", "last_name", "text", True, width=20),
        Column("Geboortedatum", "date_of_birth", "date", transfer, width=15,
               help="Een Excel-datum of tekst als dd-mm-jjjj, bijvoorbeeld 03-11-2010."),
        Column("Geslacht", "gender", "choice", transfer, GENDERS, width=10,
               help="M (man), V (vrouw) of X (anders / onbekend)."),
        Column("E-mailadres", "email", "email", False, width=26),
    ]
    if transfer:
        cols += [
            Column("Straat", "street", "text", False, width=20),
            Column("Huisnummer", "house_number", "text", False, width=12,
                   help="Met toevoeging, bijvoorbeeld 136a."),
            Column("Postcode", "postcode", "postcode", False, width=10,
                   help="Vier cijfers en twee letters: 1234 AB."),
            Column("Woonplaats", "city", "text", False, width=16),
        ]
    cols += [
        Column("Klas", "home_class", "text", True, width=10,
               help="De stamklas, bijvoorbeeld 4h2."),
        Column("Leerjaar", "year_of_education", "choice", True, choices=YEARS[school_type],
               width=10, help=f"Een getal van 1 tot en met {YEARS[school_type][-1]}."),
        Column(track_title, "track", "choice", True, tracks, width=16,
               help="Kies uit de lijst: " + ", ".join(tracks) + "."),
        Column("Afdeling", "department", "text", False, width=12,
               help="Optioneel: de afdeling in het roosterproject (bijvoorbeeld h4). Wordt "
                    "bij goedkeuring als afdelingsdeelname geplaatst als er een roosterproject "
                    "is gekozen."),
    ]
    return tuple(cols)


TEMPLATES = {(s, t): _columns(s, t) for s in SCHOOL_TYPES for t in STUDENT_TYPES}


def columns(school_type, student_type):
    return TEMPLATES[(school_type, student_type)]


def template_filename(school_type, student_type):
    kind = "potentiele-overstappers" if student_type == "potential_transfer" \
        else "niet-overstappers"
    return f"leerlinglijst-{school_type}-{kind}.xlsx"


def title_key(title):
    """How a column title is matched: surrounding and double spaces (also
    non-breaking ones) and the case do not count ("voornaam " is Voornaam)."""
    if title is None:
        return ""
    if isinstance(title, float) and title.is_integer():
        title = int(title)
    return " ".join(str(title).replace("\u00a0", " ").split()).casefold()
