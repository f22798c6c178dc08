"""What the users use cases share: lookups, serialisation, row errors, health."""

import sqlalchemy as sa

from services.common.errors import error_item, not_found, validation_error
from services.common.errors import rows_error as common_rows_error
from services.common.ids import to_id
from services.common.times import iso

from . import rules
from .models import Institution, User

MAX_BATCH_ROWS = 20000
_IN_CHUNK = 5000


# --- serialisation ------------------------------------------------------------

def institution_dict(inst):
    return {
        "id": inst.id, "name": inst.name, "brin": inst.brin, "branch": inst.branch,
        "school_type": inst.school_type, "is_platform": bool(inst.is_platform),
        "created_at": iso(inst.created_at),
    }


def user_dict(user):
    """A user record as the RPC returns it (never the password hash). Works for
    ORM objects and for Core rows."""
    return {
        "id": user.id, "institution_id": user.institution_id, "code": user.code,
        "type": user.type, "is_student": user.type == "student",
        "initials": user.initials, "first_name": user.first_name, "prefix": user.prefix,
        "last_name": user.last_name, "gender": user.gender, "email": user.email,
        "street": user.street, "house_number": user.house_number,
        "postcode": user.postcode, "city": user.city,
        "roles": sorted(user.roles or []),
        "archived": user.archived_at is not None, "archived_at": iso(user.archived_at),
        "last_login_at": iso(user.last_login_at),
        "created_at": iso(user.created_at), "updated_at": iso(user.updated_at),
    }


# --- helpers --------------------------------------------------------------------

def user_not_found():
    return not_found("user", "Gebruiker niet gevonden.")


def institution_or_404(session, institution_id):
    iid = to_id(institution_id)
    inst = session.get(Institution, iid) if iid is not None else None
    if inst is None:
        raise not_found("institution", "Instelling niet gevonden.")
    return inst


def chunks(seq, size=_IN_CHUNK):
    for start in range(0, len(seq), size):
        yield seq[start:start + size]


def code_arg(code):
    try:
        return rules.text(code)
    except rules.InvalidValue:
        return None


# Built once: building the statement per call cost more than running it.
_USER_BY_CODE = sa.select(User).where(
    User.institution_id == sa.bindparam("iid"), User.code == sa.bindparam("code"))


_USER_BY_CODE_LOCKED = _USER_BY_CODE.with_for_update()


def load_user(session, institution_id, code, lock=False):
    """The account, or None. lock=True (a change follows): the row stays locked
    until the transaction ends (PostgreSQL), so a change made by another replica
    meanwhile is waited for and then seen, never merged; SQLite writes one at a
    time anyway."""
    iid, code = to_id(institution_id), code_arg(code)
    if iid is None or code is None:
        return None
    query = _USER_BY_CODE_LOCKED if lock else _USER_BY_CODE
    return session.execute(query, {"iid": iid, "code": code}).scalar_one_or_none()


def users_by_code(session, institution_id, codes, lock=False):
    """{code: User}; lock=True locks the rows in code order (see load_user)."""
    found = {}
    for chunk in chunks(sorted(codes) if lock else list(codes)):
        query = sa.select(User).where(User.institution_id == institution_id,
                                      User.code.in_(chunk))
        if lock:
            query = query.order_by(User.code).with_for_update()
        for user in session.execute(query).scalars():
            found[user.code] = user
    return found


_ROW_STATUS = {"user_exists": 409, "not_found": 404}


def repeated_code_item(error_code, code, row, first_row):
    """The item for a code that stood in the list before, at `first_row`."""
    return error_item(error_code,
                      f"Code {code} staat meer dan eens in de lijst (ook in rij {first_row}).",
                      field="code", row=row)


def rows_error(errors):
    return common_rows_error(errors, _ROW_STATUS)


def check_rows(rows):
    if not isinstance(rows, (list, tuple)):
        raise validation_error([error_item("rows_invalid", rules.message("rows_invalid"),
                                           field="rows")])
    if len(rows) > MAX_BATCH_ROWS:
        raise validation_error([error_item(
            "too_many_rows", f"Geef hoogstens {MAX_BATCH_ROWS} rijen tegelijk.", field="rows")])


# --- health ---------------------------------------------------------------------

