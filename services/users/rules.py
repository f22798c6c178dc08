"""Business rules of the users service as pure functions.

Validation and normalisation of institution and user data, role rules, login
throttle maths. Nothing here touches a database or the broker: every function
takes values and returns values (or error items, see services/common/errors).
"""
import math
import unicodedata

from services.common import fields as fieldrules
from services.common.errors import error_item, validation_error
from services.common.fields import FieldError
from services.common.ids import IdentifierError, normalize_brin
from services.common.paging import page_args  # noqa: F401  (re-exported)
from services.common.times import as_utc  # noqa: F401  (re-exported)

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
UPDATABLE_FIELDS = tuple(PERSONAL_FIELDS) + ("type", "is_student", "roles", "password")

LABELS = {
    "code": "Code", "type": "Soort gebruiker", "is_student": "Leerling",
    "initials": "Voorletters", "first_name": "Voornaam", "prefix": "Tussenvoegsel",
    "last_name": "Achternaam", "gender": "Geslacht", "street": "Straat",
    "house_number": "Huisnummer", "postcode": "Postcode", "city": "Woonplaats",
    "email": "E-mailadres", "password": "Wachtwoord", "roles": "Rollen",
    "name": "Naam", "brin": "BRIN", "branch": "Vestiging", "school_type": "Schoolsoort",
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
}


def message(code, **kw):
    return MESSAGES[code].format(**kw)


def _label(field):
    return LABELS.get(field, field)


def required_item(field):
    return error_item("required", f"{_label(field)} is verplicht.", field=field)


def value_invalid_item(field):
    return error_item("value_invalid", f"{_label(field)} heeft geen geldige waarde.", field=field)


def too_long_item(field, limit):
    return error_item("too_long", f"{_label(field)} is te lang (hoogstens {limit} tekens).",
                      field=field)


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


def _clean_text(field, value, errors, limit):
    try:
        value = fieldrules.text(value)
    except FieldError as exc:
        errors.append(fieldrules.item(field, exc, _label(field)))
        return None
    if value is not None and len(value) > limit:
        errors.append(fieldrules.item(field, FieldError("too_long", length=len(value),
                                                        limit=limit), _label(field)))
        return None
    return value


# --- institutions -------------------------------------------------------------

def check_institution(data):
    """Validated, normalised institution fields, or a 422 DomainError.

    A 6-character BRIN carries its branch (vestiging) in its last two digits;
    a 4-character BRIN with a separate branch is stored as BRIN + branch.
    """
    if not isinstance(data, dict):
        raise validation_error([value_invalid_item("data")])
    errors = []
    name = _clean_text("name", data.get("name"), errors, 200)
    if name is None and not errors:
        errors.append(required_item("name"))

    brin = branch = None
    raw_brin = data.get("brin")
    if raw_brin is None or (isinstance(raw_brin, str) and not raw_brin.strip()):
        errors.append(required_item("brin"))
    else:
        try:
            brin = normalize_brin(raw_brin)
        except IdentifierError:
            errors.append(error_item("brin_invalid", message("brin_invalid"), field="brin"))
    raw_branch = data.get("branch")
    try:
        branch = text(raw_branch)
    except InvalidValue:
        branch = "?"
    if branch is not None and not (len(branch) == 2 and branch.isascii() and branch.isdigit()):
        errors.append(error_item("branch_invalid", message("branch_invalid"), field="branch"))
        branch = None
    if brin is not None:
        if len(brin) == 6:
            if branch is not None and branch != brin[4:]:
                errors.append(error_item("branch_invalid", message("branch_invalid"),
                                         field="branch"))
            branch = brin[4:]
        elif branch is not None:
            brin = brin + branch

    school_type = data.get("school_type")
    if school_type is None or (isinstance(school_type, str) and not school_type.strip()):
        errors.append(required_item("school_type"))
    elif not isinstance(school_type, str) or school_type.strip().lower() not in SCHOOL_TYPES:
        errors.append(error_item("school_type_invalid", message("school_type_invalid"),
                                 field="school_type"))
    else:
        school_type = school_type.strip().lower()
    if errors:
        raise validation_error(errors)
    return {"name": name, "brin": brin, "branch": branch, "school_type": school_type}


def parse_login_institution(value):
    """("platform", None), ("brin", normalised BRIN) or (None, None)."""
    if not isinstance(value, str):
        return None, None
    value = value.strip()
    if value.lower() == PLATFORM_KEY:
        return PLATFORM_KEY, None
    try:
        return "brin", normalize_brin(value)
    except IdentifierError:
        return None, None


# --- users ------------------------------------------------------------------

def _clean_personal(field, value, errors):
    """A personal field by the one table of field rules (services/common/fields.py)."""
    try:
        return fieldrules.clean(field, value)
    except FieldError as exc:
        errors.append(fieldrules.item(field, exc, _label(field)))
        return None


def clean_code(value, errors):
    code = _clean_text("code", value, errors, CODE_MAX)
    if code is None and not any(e.get("field") == "code" for e in errors):
        errors.append(required_item("code"))
    return code


def check_student_code(code, errors):
    if code is not None and not (code.isascii() and code.isdigit()):
        errors.append(error_item("student_number_not_digits",
                                 message("student_number_not_digits"), field="code"))


def _type_item():
    return error_item("user_type_invalid", message("user_type_invalid"), field="type")


def resolve_type(data, errors, current=None):
    """The user type from `type` and/or `is_student` (is_student true means student)."""
    raw_type, raw_student = data.get("type"), data.get("is_student")
    if raw_student is not None and not isinstance(raw_student, bool):
        errors.append(value_invalid_item("is_student"))
        return current
    user_type = None
    if raw_type is not None:
        if not isinstance(raw_type, str) or raw_type.strip().lower() not in USER_TYPES:
            errors.append(_type_item())
            return current
        user_type = raw_type.strip().lower()
        # an explicit type wins over is_student false (a form's default);
        # is_student true with another type is a contradiction
        if raw_student is True and user_type != "student":
            errors.append(_type_item())
            return current
        return user_type
    if raw_student is True:
        return "student"
    if raw_student is False:
        if current is not None and current != "student":
            return current
        return "employee"
    return current if current is not None else "employee"


def default_roles(user_type):
    return ["student"] if user_type == "student" else []


def check_roles(roles, user_type, is_platform, errors):
    """Sorted, de-duplicated roles, or None with role_invalid items appended.

    Roles: admin, scheduler, mentor, student; helpdesk only on the platform
    institution. The student role belongs to (and is the only role of) a user
    of type student.
    """
    if roles is None:
        return default_roles(user_type)
    if isinstance(roles, str) or not isinstance(roles, (list, tuple, set)):
        errors.append(error_item("role_invalid", "Rollen moeten als lijst worden opgegeven.",
                                 field="roles"))
        return None
    result, bad = set(), False
    for role in roles:
        name = role.strip().lower() if isinstance(role, str) else None
        if name in PLATFORM_ROLES:
            if not is_platform:
                errors.append(role_invalid_item(name, "alleen voor de helpdesk van het platform"))
                bad = True
                continue
        elif name not in ROLES:
            errors.append(role_invalid_item(role))
            bad = True
            continue
        if user_type == "student" and name != "student":
            errors.append(role_invalid_item(name, "een leerling heeft alleen de rol student"))
            bad = True
            continue
        if user_type != "student" and name == "student":
            errors.append(role_invalid_item(name, "alleen een leerling heeft de rol student"))
            bad = True
            continue
        result.add(name)
    if bad:
        return None
    if user_type == "student":
        result.add("student")
    return sorted(result)


def check_password(value, errors):
    """None for no password; the password text when it is acceptable."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        errors.append(value_invalid_item("password"))
        return None
    if len(value) < MIN_PASSWORD_LENGTH:
        errors.append(error_item("password_too_short", message("password_too_short"),
                                 field="password"))
        return None
    if len(value) > MAX_PASSWORD_LENGTH:
        errors.append(error_item("password_too_long", message("password_too_long"),
                                 field="password"))
        return None
    return value


def check_new_user(data, is_platform=False):
    """(clean, errors) for a new user; `clean` holds every column value plus
    the plain `password` (or None). Errors are error items without a row."""
    if not isinstance(data, dict):
        return None, [value_invalid_item("data")]
    errors = []
    code = clean_code(data.get("code"), errors)
    user_type = resolve_type(data, errors)
    if user_type == "student":
        check_student_code(code, errors)
    clean = {"code": code, "type": user_type}
    for field in PERSONAL_FIELDS:
        clean[field] = _clean_personal(field, data.get(field), errors)
    for field in REQUIRED_PERSONAL:
        if clean[field] is None and not any(e.get("field") == field for e in errors):
            errors.append(required_item(field))
    clean["roles"] = check_roles(data.get("roles"), user_type, is_platform, errors)
    clean["password"] = check_password(data.get("password"), errors)
    return clean, errors


def check_changes(current, changes, is_platform=False):
    """(updates, password, errors) for changing a user.

    `current` maps column names to the stored values (code, type, roles and the
    personal fields). `updates` holds only columns whose value changes;
    `password` is the new plain password or None.
    """
    if not isinstance(changes, dict):
        return {}, None, [value_invalid_item("changes")]
    errors = []
    for key in changes:
        if key == "code":
            try:
                new_code = text(changes[key])
            except InvalidValue:
                new_code = None
            if new_code != current["code"]:
                errors.append(error_item("field_immutable", message("field_immutable"),
                                         field="code"))
        elif key not in UPDATABLE_FIELDS and key not in READ_ONLY_FIELDS:
            errors.append(error_item("field_unknown", f"Onbekend veld: {key}.", field=str(key)))
    new = {}
    for field in PERSONAL_FIELDS:
        if field in changes:
            new[field] = _clean_personal(field, changes[field], errors)
            if field in REQUIRED_PERSONAL and new[field] is None \
                    and not any(e.get("field") == field for e in errors):
                errors.append(required_item(field))
    old_type = current["type"]
    new_type = resolve_type(changes, errors, current=old_type)
    if new_type != old_type:
        new["type"] = new_type
        if new_type == "student":
            check_student_code(current["code"], errors)
    if changes.get("roles") is not None:
        roles = check_roles(changes["roles"], new_type, is_platform, errors)
    elif new_type != old_type:
        roles = adapt_roles(current["roles"], new_type)
    else:
        roles = sorted(current["roles"] or [])
    if roles is not None:
        new["roles"] = roles
    password = check_password(changes.get("password"), errors)
    updates = {k: v for k, v in new.items() if v != current.get(k)}
    if "roles" in updates and sorted(current.get("roles") or []) == updates["roles"]:
        del updates["roles"]
    return updates, password, errors


def adapt_roles(roles, new_type):
    """Roles after a change of type when no roles were given."""
    if new_type == "student":
        return ["student"]
    return sorted(set(roles or []) - {"student"})


# --- login throttle -----------------------------------------------------------

FREE_FAILURES = 5
MAX_WAIT_SECONDS = 300


def throttle_key(institution, code):
    """The throttle key of an account, whether or not it exists."""
    kind, brin = parse_login_institution(institution)
    if kind == PLATFORM_KEY:
        inst = PLATFORM_KEY
    elif kind == "brin":
        inst = brin
    else:
        inst = "?" + (str(institution or "").strip().upper()[:20])
    code = str(code or "").strip()[:CODE_MAX + 20]
    return f"{inst}|{code}"[:120]


def throttle_delay(failures):
    """Seconds the next attempt must wait after the last of `failures`
    consecutive failures: none for the first five, then 1, 2, 4 ... up to 300."""
    if failures < FREE_FAILURES:
        return 0
    exponent = failures - FREE_FAILURES
    if exponent >= 9:  # 2**9 = 512 > 300
        return MAX_WAIT_SECONDS
    return min(2 ** exponent, MAX_WAIT_SECONDS)


def throttle_remaining(failures, last_failure_at, now):
    """Seconds still to wait before another attempt is allowed (0: allowed)."""
    delay = throttle_delay(failures)
    if delay == 0 or last_failure_at is None:
        return 0.0
    elapsed = (as_utc(now) - as_utc(last_failure_at)).total_seconds()
    return max(0.0, delay - elapsed)


def retry_after(remaining):
    """Whole seconds for a Retry-After of `remaining` seconds (at least 1)."""
    return max(1, math.ceil(remaining))


def too_many_attempts_message(seconds):
    return (f"Te veel mislukte inlogpogingen. Probeer het over {seconds} "
            f"seconde{'' if seconds == 1 else 'n'} opnieuw.")


# --- lists --------------------------------------------------------------------

LIST_FILTERS = ("all", "students", "employees", "archived")


def check_filter(value):
    value = "all" if value is None else value
    if value not in LIST_FILTERS:
        raise validation_error([error_item("filter_invalid", message("filter_invalid"),
                                           field="filter")])
    return value


# --- search -------------------------------------------------------------------

# Letters that Unicode does not decompose into a base letter plus marks, but
# that a Dutch user types as that base letter (after casefold).
_FOLD_LETTERS = str.maketrans({
    "ı": "i",    # Turkish dotless i (İ decomposes into I + dot above by itself)
    "ø": "o", "ł": "l", "đ": "d", "ð": "d", "ħ": "h", "ŧ": "t",
    "æ": "ae", "œ": "oe", "þ": "th",
})
# Separates the fields of a user's search text; `q` can never contain it (text()
# refuses control characters), so a match never spans two fields.
SEARCH_SEPARATOR = "\n"


def search_key(value):
    """`value` folded for case- and accent-insensitive matching: NFKD, combining
    marks dropped, casefolded, a few letters without decomposition mapped to
    their base letters, whitespace runs collapsed. None and "" give "".

    Özil, ÖZIL, ozil -> "ozil"; Çelik -> "celik"; Daniëlle -> "danielle";
    Straße -> "strasse"; ﬁ (ligature) -> "fi"; ĳ -> "ij"; İ and ı -> "i";
    Øre -> "ore"; Æ -> "ae".
    """
    if not value:
        return ""
    value = str(value)
    if value.isascii():  # the common case, and the fast one (loads of thousands of rows)
        return " ".join(value.lower().split())
    decomposed = unicodedata.normalize("NFKD", value)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # casefold may introduce decomposable letters again (rare): normalise once more
    folded = unicodedata.normalize("NFKD", bare.casefold())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return " ".join(folded.translate(_FOLD_LETTERS).split())


SEARCH_FIELDS = ("first_name", "prefix", "last_name", "email", "code")


def search_text(user):
    """The stored search text of a user (a mapping of SEARCH_FIELDS): the full
    name with and without prefix, the e-mail address and the code, each folded
    by search_key and separated by SEARCH_SEPARATOR. A substring of any of them
    (first name, last name, prefix included) is a substring of this text."""
    first, prefix, last = (user.get("first_name") or "", user.get("prefix") or "",
                           user.get("last_name") or "")
    parts = (" ".join(p for p in (first, prefix, last) if p),
             " ".join(p for p in (first, last) if p),
             user.get("email") or "", user.get("code") or "")
    return SEARCH_SEPARATOR.join(search_key(p) for p in parts)


def like_pattern(q):
    """The LIKE pattern (escape character backslash) that finds the folded `q`
    anywhere in a search text; `%`, `_` and `\\` in q are literal."""
    folded = search_key(q)
    escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
