"""What the users service's rules share: school and user types, roles, field
limits, Dutch labels and messages, error items, text coercion.

The rules themselves, by area: institution_rules.py, account_rules.py,
throttle.py (login throttle), search.py. Nothing in them touches a database or
the broker: every function takes values and returns values (or error items,
see services/common/errors).
"""
from services.common import fields as fieldrules
from services.common.errors import FieldItems, error_item
from services.common.fields import FieldError

SCHOOL_TYPES = ("vo", "mbo")
USER_TYPES = ("student", "employee", "guardian")
ROLES = ("admin", "scheduler", "mentor", "student")
PLATFORM_ROLES = ("helpdesk",)
GENDERS = fieldrules.GENDERS
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
PLATFORM_KEY = "platform"
# code of the platform's helpdesk account (bootstrap.py creates it)
HELPDESK_CODE = "helpdesk"

CODE_MAX = fieldrules.FIELDS["code"].max_length
# Personal fields and their maximum length (models.User): the one table of
# field rules (services/common/fields.py), which uploads and students use too.
PERSONAL_FIELDS = {name: fieldrules.FIELDS[name].max_length
                   for name in fieldrules.PERSONAL_FIELDS}
REQUIRED_PERSONAL = ("first_name", "last_name")
# Keys an update may carry that are not changes (a client sending back a record).
READ_ONLY_FIELDS = ("id", "institution_id", "archived", "archived_at", "last_login_at",
                    "created_at", "updated_at")
UPDATABLE_FIELDS = (*PERSONAL_FIELDS, "type", "is_student", "roles", "password")

LABELS = {
    **{name: fieldrules.label_of(name) for name in ("code", *fieldrules.PERSONAL_FIELDS)},
    "type": "Soort gebruiker", "is_student": "Leerling", "password": "Wachtwoord",
    "roles": "Rollen", "name": "Naam", "brin": "BRIN", "branch": "Vestiging",
    "school_type": "Schoolsoort",
}

MESSAGES = {
    "student_number_not_digits": fieldrules.message("student_number_not_digits",
                                                    "De code van een leerling"),
    "brin_invalid": "Het BRIN-nummer is niet geldig: twee cijfers en twee letters, "
                    "eventueel gevolgd door twee cijfers voor de vestiging.",
    "branch_invalid": "De vestiging moet uit twee cijfers bestaan en bij het BRIN-nummer passen.",
    "school_type_invalid": "De schoolsoort moet 'vo' of 'mbo' zijn.",
    "password_too_short": f"Het wachtwoord moet minstens {MIN_PASSWORD_LENGTH} tekens lang zijn.",
    "password_too_long": f"Het wachtwoord mag hoogstens {MAX_PASSWORD_LENGTH} tekens lang zijn.",
    "user_type_invalid": "De soort gebruiker moet leerling (student), medewerker (employee) "
                         "of ouder/verzorger (guardian) zijn.",
    "field_immutable": "De code van een gebruiker kan niet worden gewijzigd.",
    "invalid_credentials": "Onjuiste instelling, gebruikersnaam of wachtwoord.",
    "token_invalid": "Uw sessie is ongeldig of verlopen. Log opnieuw in.",
    "filter_invalid": "Onbekend filter: kies all, students, employees of archived.",
    "page_invalid": "Paginanummer en paginagrootte moeten gehele getallen zijn.",
    "rows_invalid": "Geef een lijst met rijen.",
    "user_changed": "De gebruiker is intussen door een ander gewijzigd. Haal de gegevens "
                    "opnieuw op en probeer het nog eens.",
}


_FIELD_ITEMS = FieldItems(LABELS)
label = _FIELD_ITEMS.label
required_item = _FIELD_ITEMS.required
value_invalid_item = _FIELD_ITEMS.value_invalid
too_long_item = _FIELD_ITEMS.too_long


def message(code, **kw):
    return MESSAGES[code].format(**kw)


def role_invalid_item(role, reason=None):
    text = f"De rol '{role}' is onbekend of niet toegestaan"
    return error_item("role_invalid", text + (f": {reason}." if reason else "."), field="roles")


class InvalidValue(Exception):
    pass


def text(value):
    """A spreadsheet-ish value as stripped text; None for empty (the shared
    field rules' coercion: integers and Excel's 12345.0 become digits, a
    non-breaking space a space). Raises InvalidValue for values that are not
    text-like (bool, list, dict, control characters)."""
    try:
        return fieldrules.text(value)
    except FieldError:
        raise InvalidValue() from None


def clean_text(field, value, errors, limit):
    try:
        value = fieldrules.text(value)
    except FieldError as exc:
        errors.append(fieldrules.item(field, exc, label(field)))
        return None
    if value is not None and len(value) > limit:
        errors.append(fieldrules.item(field, FieldError("too_long", length=len(value),
                                                        limit=limit), label(field)))
        return None
    return value
