"""The students service's field names, limits, Dutch labels and messages, and the
error items built from them."""
from services.common import fields as fieldrules
from services.common.errors import FieldItems, error_item, validation_error


STUDENT_TYPES = ("potential_transfer", "non_transfer")
AUTHORITIES = ("portal", "desktop")
GROUP_KINDS = ("home_class", "cluster")
STUDENT_NUMBER_MAX = fieldrules.FIELDS["student_number"].max_length
MAX_BATCH_ROWS = 20000

# Personal data: owned by the users service, forwarded there (users.rules
# validates the formats; here only presence and text-ness are checked).
PERSONAL_FIELDS = fieldrules.PERSONAL_FIELDS
# The student record's own fields and their text limits (None: not text).
RECORD_FIELDS = ("type", "bsn", "onderwijsnummer", "date_of_birth", "year_of_education",
                 "track", "home_class")
# Keys a client may send back unchanged in an update (ignored).
READ_ONLY_FIELDS = ("id", "institution_id", "user_id", "registered", "archived", "left_at",
                    "leave_date", "status", "created_at", "updated_at", "is_student", "roles",
                    "type_label")
# How far a leave date may lie from today (a past date is carried out now).
LEAVE_DAYS_BACK = 730
LEAVE_DAYS_AHEAD = 366
IDENTIFIER_FIELDS = ("bsn", "onderwijsnummer")

PARTICIPATION_FIELDS = ("department", "forecast", "profile", "programme", "learning_path",
                        "home_class", "lwoo")
PARTICIPATION_READ_ONLY = ("id", "institution_id", "project_id", "school_year",
                           "student_number", "created_at", "updated_at", "subjects",
                           "exemptions")
# What a mentor (without admin) may change (a home class only where the portal leads).
MENTOR_FIELDS = ("forecast", "home_class")
ADMIN_ROLES = ("admin", "helpdesk")

LABELS = {
    **{name: rule.label for name, rule in fieldrules.FIELDS.items()},
    "type": "Type leerling", "name": "Naam", "school_year": "Schooljaar", "branch": "Vestiging",
    "education": "Opleiding", "home_class_authority": "Stamklasindeling",
    "learning_paths": "Leerpaden", "element_code": "Elementcode", "subjects": "Vakken",
    "exemptions": "Vrijstellingen", "kind": "Soort groep", "subject": "Vak",
    "student_numbers": "Leerlingnummers", "keep_package": "Pakket behouden",
    "participation": "Afdelingsdeelname", "date": "Datum",
}

MESSAGES = {
    "student_number_not_digits": "Het leerlingnummer mag alleen cijfers bevatten.",
    "student_type_invalid": "Het type leerling moet potential_transfer (potentiële "
                            "overstapper) of non_transfer (niet-overstapper) zijn.",
    "bsn_required": fieldrules.MESSAGES["bsn_required"],
    "date_invalid": "{label} is geen geldige datum (verwacht: JJJJ-MM-DD).",
    "school_year_invalid": "Het schooljaar moet de vorm 2025-2026 hebben: twee opeenvolgende "
                           "jaren.",
    "home_class_authority_invalid": "De stamklasindeling moet 'portal' of 'desktop' zijn.",
    "learning_paths_invalid": "Geef de leerpaden als lijst met code, naam en elementcode.",
    "learning_path_duplicate": "Leerpad {code} komt meer dan eens voor.",
    "group_kind_invalid": "De soort groep moet home_class (stamklas) of cluster "
                          "(clustergroep) zijn.",
    "codes_invalid": "Geef {label} als lijst met codes.",
    "keep_package_required": "De afdeling wijzigt: geef aan of het pakket behouden blijft "
                             "(keep_package true) of gewist wordt (keep_package false).",
    "field_immutable": "Het leerlingnummer kan niet worden gewijzigd.",
    "student_changed": "De leerling is intussen door een ander gewijzigd. Haal de gegevens "
                       "opnieuw op en voer de wijziging nog eens in.",
    "placement_changed": "Het roosterproject of de afdeling is intussen gewijzigd of "
                         "verwijderd. Controleer de afdelingen en probeer het opnieuw.",
    "page_invalid": "Paginanummer en paginagrootte moeten gehele getallen zijn.",
    "rows_invalid": "Geef een lijst met rijen.",
    "too_many_rows": f"Geef hoogstens {MAX_BATCH_ROWS} rijen tegelijk.",
    "registered_invalid": "Het filter geregistreerd moet true of false zijn.",
    "mentor_fields": "Een mentor mag alleen de prognose en de stamklas wijzigen.",
    "reveal_forbidden": "Alleen een beheerder mag het BSN onversleuteld bekijken.",
    "leave_date_too_early": "De vertrekdatum ligt te ver in het verleden (hoogstens "
                            "{days} dagen terug).",
    "leave_date_too_late": "De vertrekdatum ligt te ver in de toekomst (hoogstens {days} "
                           "dagen vooruit).",
    "student_already_left": "Deze leerling heeft de school al verlaten. Zet de gebruiker "
                            "terug (Gebruikers > Terugzetten) om dat ongedaan te maken.",
    "left_invalid": "Het filter vertrokken moet true of false zijn.",
    "not_a_mentor": "Gebruiker {code} is geen mentor; geef de gebruiker eerst de rol mentor "
                    "(Beheer > Gebruikers).",
    "mentor_classes_invalid": "Geef de stamklassen als lijst met codes.",
    "mentor_classes_too_many": "Geef hoogstens {limit} stamklassen.",
    "home_class_desktop_led": "De stamklassen van afdeling {department} worden in de "
                              "roosterapplicatie (desktop) ingedeeld; de stamklas kan hier niet "
                              "worden gewijzigd.",
}


def message(key, **kw):
    return MESSAGES[key].format(**kw)


_FIELD_ITEMS = FieldItems(LABELS)
label = _FIELD_ITEMS.label
required_item = _FIELD_ITEMS.required
value_invalid_item = _FIELD_ITEMS.value_invalid
too_long_item = _FIELD_ITEMS.too_long


def require_object(data):
    """`data` when it is an object (a dict); 422 value_invalid otherwise."""
    if not isinstance(data, dict):
        raise validation_error([value_invalid_item("data")])
    return data


def item(code, field=None, **kw):
    return error_item(code, message(code, label=label(field), **kw), field=field)


def unknown_field_item(field):
    return error_item("field_unknown", f"Onbekend veld: {field}.", field=str(field))
