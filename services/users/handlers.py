"""Use cases of the users service.

Each function takes an entered UnitOfWork (services/common/db.py), does one
command or query, commits with its events where it changes something, and
returns plain JSON-able values. Rules live in rules.py; the nameko service
only maps entrypoints onto these functions.
"""
import datetime as dt
import secrets

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.common.errors import DomainError, conflict, error_item, not_found, validation_error
from services.common.outbox import utcnow
from services.common.times import iso

from . import passwords, rules
from .models import Institution, LoginThrottle, User, login_throttle, users

MAX_BATCH_ROWS = 20000
_IN_CHUNK = 5000
# Batch events (users_created_batch, users_discarded_batch) carry this many users each.
EVENT_CHUNK = 500
# discard_users removes only accounts younger than this that never logged in.
DISCARD_WINDOW = dt.timedelta(hours=1)
PLATFORM_NAME = "Leerlingbus platform"


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


def _current(user):
    values = {field: getattr(user, field) for field in rules.PERSONAL_FIELDS}
    values.update(code=user.code, type=user.type, roles=sorted(user.roles or []))
    return values


def _created_event(user, origin=None):
    """`origin`: the service that creates the account as part of its own
    operation ("students" for a student record made with it); consumers that
    react to new accounts skip what that service is already doing."""
    data = {
        "user_id": user.id, "code": user.code, "type": user.type,
        "roles": sorted(user.roles or []), "initials": user.initials,
        "first_name": user.first_name, "prefix": user.prefix,
        "last_name": user.last_name, "email": user.email,
    }
    if origin is not None:
        data["origin"] = origin
    return data


def _origin(value):
    return value if isinstance(value, str) and value.isidentifier() and len(value) <= 30 \
        else None


# --- helpers --------------------------------------------------------------------

def _to_id(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def _user_not_found():
    return not_found("user", "Gebruiker niet gevonden.")


def _institution(session, institution_id):
    iid = _to_id(institution_id)
    inst = session.get(Institution, iid) if iid is not None else None
    if inst is None:
        raise not_found("institution", "Instelling niet gevonden.")
    return inst


def _chunks(seq, size=_IN_CHUNK):
    for start in range(0, len(seq), size):
        yield seq[start:start + size]


def _code_arg(code):
    try:
        return rules.text(code)
    except rules.InvalidValue:
        return None


def _load_user(session, institution_id, code):
    iid, code = _to_id(institution_id), _code_arg(code)
    if iid is None or code is None:
        return None
    return session.execute(
        sa.select(User).where(User.institution_id == iid, User.code == code)
    ).scalar_one_or_none()


def _users_by_code(session, institution_id, codes):
    found = {}
    for chunk in _chunks(list(codes)):
        for user in session.execute(
                sa.select(User).where(User.institution_id == institution_id,
                                      User.code.in_(chunk))).scalars():
            found[user.code] = user
    return found


_ROW_STATUS = {"user_exists": 409, "not_found": 404}


def _rows_error(errors):
    """One DomainError listing every bad row: 422 when any row is invalid,
    else 409 (duplicates) or 404 (unknown codes)."""
    errors = sorted(errors, key=lambda e: e.get("row") or 0)
    statuses = {_ROW_STATUS.get(e["code"], 422) for e in errors}
    status = 422 if 422 in statuses else (409 if 409 in statuses else 404)
    lead = next(e for e in errors if _ROW_STATUS.get(e["code"], 422) == status)
    if len(errors) == 1:
        text = lead["message"]
    else:
        bad_rows = len({e.get("row") for e in errors})
        text = f"{bad_rows} rij(en) bevatten fouten; er is niets opgeslagen."
    return DomainError(lead["code"], text, status=status, field=lead.get("field"),
                       errors=errors)


def _single_error(errors):
    if all(e["code"] == "user_exists" for e in errors):
        return conflict("user_exists", errors[0]["message"], field="code")
    return validation_error(errors)


def _exists_item(code, row=None):
    return error_item("user_exists",
                      f"Er bestaat al een gebruiker met code {code} binnen deze instelling.",
                      field="code", row=row)


def _check_rows(rows):
    if not isinstance(rows, (list, tuple)):
        raise validation_error([error_item("rows_invalid", rules.message("rows_invalid"),
                                           field="rows")])
    if len(rows) > MAX_BATCH_ROWS:
        raise validation_error([error_item(
            "too_many_rows", f"Geef hoogstens {MAX_BATCH_ROWS} rijen tegelijk.", field="rows")])


# --- health ---------------------------------------------------------------------

def health(uow):
    uow.session.execute(sa.text("SELECT 1"))
    return {"service": "users", "status": "ok"}


# --- institutions -----------------------------------------------------------------

def _new_upload_code():
    return secrets.token_urlsafe(18)


def create_institution(uow, data):
    clean = rules.check_institution(data)
    session = uow.session
    exists_msg = "Er bestaat al een instelling met dit BRIN-nummer."
    if session.execute(sa.select(Institution.id).where(Institution.brin == clean["brin"])).first():
        raise conflict("institution_exists", exists_msg, field="brin")
    inst = Institution(key=None, is_platform=False, upload_code=_new_upload_code(),
                       created_at=utcnow(), **clean)
    session.add(inst)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise conflict("institution_exists", exists_msg, field="brin") from None
    uow.add_event("institution_created", inst.id, {
        "institution_id": inst.id, "name": inst.name, "brin": inst.brin,
        "branch": inst.branch, "school_type": inst.school_type})
    uow.commit()
    return institution_dict(inst)


def list_institutions(uow, page=1, page_size=50):
    page, page_size = rules.page_args(page, page_size)
    query = sa.select(Institution).where(Institution.is_platform.is_(False))
    total = uow.session.execute(
        sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    items = uow.session.execute(
        query.order_by(Institution.name, Institution.id)
        .limit(page_size).offset((page - 1) * page_size)).scalars()
    return {"items": [institution_dict(i) for i in items], "total": total,
            "page": page, "page_size": page_size}


def get_institution(uow, institution_id):
    return institution_dict(_institution(uow.session, institution_id))


def ensure_platform(uow):
    """The platform institution (key "platform"), created when missing."""
    session = uow.session
    query = sa.select(Institution).where(Institution.key == rules.PLATFORM_KEY)
    inst = session.execute(query).scalar_one_or_none()
    if inst is not None:
        return inst
    inst = Institution(key=rules.PLATFORM_KEY, name=PLATFORM_NAME, brin=None, branch=None,
                       school_type=None, is_platform=True, upload_code=_new_upload_code(),
                       created_at=utcnow())
    session.add(inst)
    try:
        uow.commit()
    except IntegrityError:  # created at the same moment by another process
        uow.rollback()
        inst = session.execute(query).scalar_one()
    return inst


def _school(session, institution_id):
    """A school institution (never the platform) or 404."""
    inst = _institution(session, institution_id)
    if inst.is_platform:
        raise not_found("institution", "Instelling niet gevonden.")
    return inst


def get_upload_code(uow, institution_id):
    """The code with which anyone may send a student list for the institution
    (the public submission route)."""
    inst = _school(uow.session, institution_id)
    return {"institution_id": inst.id, "upload_code": inst.upload_code}


def rotate_upload_code(uow, institution_id):
    """A new upload code; the old one stops working at once."""
    inst = _school(uow.session, institution_id)
    inst.upload_code = _new_upload_code()
    uow.add_event("upload_code_rotated", inst.id, {"institution_id": inst.id})
    uow.commit()
    return {"institution_id": inst.id, "upload_code": inst.upload_code}


def helpdesk_email(uow):
    """The e-mail address of the platform's `helpdesk` account (where notices
    for the helpdesk go), or None when the account has none, is archived or
    does not exist."""
    row = uow.session.execute(
        sa.select(User.email, User.archived_at).join(
            Institution, Institution.id == User.institution_id)
        .where(Institution.key == rules.PLATFORM_KEY, User.code == rules.HELPDESK_CODE)
    ).first()
    if row is None or row.archived_at is not None:
        return None
    return row.email or None


def institution_by_upload_code(uow, code):
    """The institution an upload code belongs to (id, name, school type), or
    404 for an unknown code or the platform's."""
    if not isinstance(code, str) or not code.strip() or len(code.strip()) > 64:
        raise not_found("institution", "Onbekende uploadcode.")
    inst = uow.session.execute(sa.select(Institution).where(
        Institution.upload_code == code.strip())).scalar_one_or_none()
    if inst is None or inst.is_platform:
        raise not_found("institution", "Onbekende uploadcode.")
    return {"id": inst.id, "name": inst.name, "school_type": inst.school_type}


# --- creating users ---------------------------------------------------------------

def _origin_key(value):
    """The key of the operation creating accounts: printable ASCII, <= 80."""
    if value is None:
        return None
    if isinstance(value, str) and 0 < len(value) <= 80 and value.isascii() \
            and value.isprintable():
        return value
    raise validation_error([error_item("value_invalid", "Ongeldige herkomstsleutel.",
                                       field="origin_key")])


def _insert_users(uow, inst, rows, batch, batch_events=False, origin=None, origin_key=None):
    """Validate every row, then insert them all in one statement. Raises one
    DomainError for all bad rows; writes nothing then. With `batch_events` the
    new users are announced as `users_created_batch` events of up to
    EVENT_CHUNK users each instead of one `user_created` per user.

    With `origin_key` (the operation: a list load, a request) an existing
    account created under that same key is adopted, not refused: the retry of
    an operation that crashed after this step gets its accounts back (no new
    event: the first attempt announced them). An account of any other origin
    stays user_exists. Returns the users in the order of `rows`."""
    for attempt in range(2):
        try:
            return _insert_users_once(uow, inst, rows, batch, batch_events, origin, origin_key)
        except _Raced:
            if attempt or origin_key is None:
                raise _codes_taken() from None
            # a concurrent attempt of the same operation: adopt what it inserted


def _codes_taken():
    return conflict("user_exists", "Er bestaat al een gebruiker met een van deze codes "
                                   "binnen deze instelling.", field="code")


class _Raced(Exception):
    pass


def _insert_users_once(uow, inst, rows, batch, batch_events, origin, origin_key):
    session = uow.session
    errors, cleans = [], []
    for index, data in enumerate(rows, 1):
        clean, row_errors = rules.check_new_user(data, is_platform=bool(inst.is_platform))
        for item in row_errors:
            errors.append({**item, "row": index} if batch else item)
        cleans.append(clean)

    first_row = {}
    for index, clean in enumerate(cleans, 1):
        code = clean["code"] if clean else None
        if code is None:
            continue
        if code in first_row:
            errors.append(error_item(
                "user_exists",
                f"Code {code} staat meer dan eens in de lijst (ook in rij {first_row[code]}).",
                field="code", row=index))
        else:
            first_row[code] = index
    adopted = {}
    if first_row:
        for chunk in _chunks(list(first_row)):
            for row in session.execute(
                    sa.select(users).where(users.c.institution_id == inst.id,
                                           users.c.code.in_(chunk))):
                if origin_key is not None and row.origin_key == origin_key:
                    adopted[row.code] = user_dict(row)
                else:
                    errors.append(_exists_item(row.code, first_row[row.code] if batch else None))
    if errors:
        raise _rows_error(errors) if batch else _single_error(errors)
    if not cleans:
        return []
    if adopted:
        new_rows = [c for c in cleans if c["code"] not in adopted]
        created = _insert_clean(uow, inst, new_rows, batch_events, origin, origin_key)
        by_code = {**adopted, **{u["code"]: u for u in created}}
        return [by_code[c["code"]] for c in cleans]
    return _insert_clean(uow, inst, cleans, batch_events, origin, origin_key)


def _insert_clean(uow, inst, cleans, batch_events, origin, origin_key):
    """Insert validated rows with their events; the user dicts."""
    session = uow.session
    if not cleans:
        session.rollback()
        return []

    inst_id = inst.id
    with_password = [i for i, c in enumerate(cleans) if c["password"] is not None]
    if with_password:
        session.rollback()  # hand the connection back while hashing
    hashes = dict(zip(with_password,
                      passwords.hash_passwords(cleans[i]["password"] for i in with_password)))
    now = utcnow()
    values = []
    for index, clean in enumerate(cleans):
        row = {k: v for k, v in clean.items() if k != "password"}
        row.update(institution_id=inst_id, password_hash=hashes.get(index), archived_at=None,
                   last_login_at=None, created_at=now, updated_at=now,
                   search_text=rules.search_text(row), origin_key=origin_key)
        values.append(row)
    try:
        created = session.execute(
            sa.insert(users).returning(users, sort_by_parameter_order=True), values).all()
    except IntegrityError:  # a concurrent request took one of the codes
        session.rollback()
        raise _Raced() from None
    if batch_events:
        for chunk in _chunks(created, EVENT_CHUNK):
            uow.add_event("users_created_batch", inst_id, {
                "count": len(chunk),
                "users": [_created_event(user, origin) for user in chunk]})
    else:
        for user in created:
            uow.add_event("user_created", inst_id, _created_event(user, origin))
    uow.commit()
    return [user_dict(user) for user in created]


def create_user(uow, institution_id, data, origin=None, origin_key=None):
    """One user. With `origin_key`, the account that key created before is
    answered (adopted) instead of user_exists."""
    inst = _institution(uow.session, institution_id)
    return _insert_users(uow, inst, [data], batch=False, origin=_origin(origin),
                         origin_key=_origin_key(origin_key))[0]


def create_users(uow, institution_id, rows, batch_events=False, origin=None, origin_key=None):
    """Create many users at once (all or nothing). `batch_events=True` (the
    loaders: students.create_students) publishes one `users_created_batch` per
    EVENT_CHUNK users: a confirmed message per row would be the slowest step.
    `origin_key`: see _insert_users (accounts of the same operation adopted)."""
    inst = _institution(uow.session, institution_id)
    _check_rows(rows)
    return {"created": _insert_users(uow, inst, list(rows), batch=True,
                                     batch_events=bool(batch_events),
                                     origin=_origin(origin),
                                     origin_key=_origin_key(origin_key))}


def discard_users(uow, institution_id, codes, batch_events=False, now=None):
    """Hard-delete just-created accounts: the compensation of a composite
    operation whose later step failed (students.create_student(s)).

    Only users that never logged in and were created less than DISCARD_WINDOW
    ago are deleted; any other listed user is kept (and returned as such), so
    this can never erase an account in use. Unknown codes are ignored. Emits
    `user_discarded` per user, or `users_discarded_batch` per EVENT_CHUNK users
    with `batch_events`.
    """
    inst = _institution(uow.session, institution_id)
    if not isinstance(codes, (list, tuple)):
        raise validation_error([error_item("value_invalid", "Geef een lijst met codes.",
                                           field="codes")])
    wanted = list(dict.fromkeys(c for c in map(_code_arg, codes) if c is not None))
    now = now or utcnow()
    cutoff = now - DISCARD_WINDOW
    session = uow.session
    found = []
    for chunk in _chunks(wanted):
        found.extend(session.execute(
            sa.select(users.c.id, users.c.code, users.c.type, users.c.last_login_at,
                      users.c.created_at)
            .where(users.c.institution_id == inst.id, users.c.code.in_(chunk))).all())
    gone = [u for u in found
            if u.last_login_at is None and rules.as_utc(u.created_at) >= cutoff]
    gone_ids = {u.id for u in gone}
    for chunk in _chunks([u.id for u in gone]):
        session.execute(sa.delete(users).where(users.c.id.in_(chunk)))
    records = [{"user_id": u.id, "code": u.code, "type": u.type} for u in gone]
    if batch_events:
        for chunk in _chunks(records, EVENT_CHUNK):
            uow.add_event("users_discarded_batch", inst.id,
                          {"count": len(chunk), "users": chunk})
    else:
        for record in records:
            uow.add_event("user_discarded", inst.id, record)
    uow.commit()
    return {"discarded": [u.code for u in gone],
            "kept": [u.code for u in found if u.id not in gone_ids]}


def unfinished_accounts(uow, key_prefix, min_age_seconds, now=None, limit=500):
    """Accounts an operation created (origin_key starting with `key_prefix`)
    at least `min_age_seconds` ago that discard_users could still remove (never
    logged in, younger than DISCARD_WINDOW): the candidates whose creator
    checks that its own second step finished. Oldest first."""
    if not isinstance(key_prefix, str) or not key_prefix:
        raise validation_error([error_item("value_invalid", "Geef een herkomst op.",
                                           field="key_prefix")])
    now = now or utcnow()
    newest = now - dt.timedelta(seconds=max(float(min_age_seconds), 0.0))
    rows = uow.session.execute(
        sa.select(users.c.institution_id, users.c.code, users.c.origin_key)
        .where(users.c.origin_key.startswith(key_prefix, autoescape=True),
               users.c.last_login_at.is_(None),
               users.c.created_at >= now - DISCARD_WINDOW, users.c.created_at <= newest)
        .order_by(users.c.id).limit(limit)).all()
    return [{"institution_id": r.institution_id, "code": r.code, "origin_key": r.origin_key}
            for r in rows]


# --- changing users -----------------------------------------------------------------

def _apply_updates(uow, inst, items, batch):
    """items: (row, code, changes). All-or-nothing; returns the user dicts."""
    session = uow.session
    inst_id, is_platform = inst.id, bool(inst.is_platform)
    errors = []
    first_row, codes = {}, []
    for row, code, _changes in items:
        if code is None:
            errors.append({**rules.required_item("code"), "row": row})
        elif code in first_row:
            errors.append(error_item(
                "duplicate_row",
                f"Code {code} staat meer dan eens in de lijst (ook in rij {first_row[code]}).",
                field="code", row=row))
        else:
            first_row[code] = row
            codes.append(code)
    found = _users_by_code(session, inst_id, codes)

    plans = []
    for row, code, changes in items:
        if code is None or first_row.get(code) != row:
            continue
        user = found.get(code)
        if user is None:
            if not batch:
                raise _user_not_found()
            errors.append(error_item("not_found", f"Geen gebruiker met code {code}.",
                                     field="code", row=row))
            continue
        updates, password, row_errors = rules.check_changes(
            _current(user), changes, is_platform=is_platform)
        errors.extend({**e, "row": row} if batch else e for e in row_errors)
        plans.append((user, updates, password))
    if errors:
        raise _rows_error(errors) if batch else validation_error(errors)

    to_hash = [p for p in plans if p[2] is not None]
    new_hash = {}
    if to_hash:
        session.rollback()  # hand the connection back while hashing
        hashes = passwords.hash_passwords(p[2] for p in to_hash)
        new_hash = {id(p[0]): h for p, h in zip(to_hash, hashes)}
        _users_by_code(session, inst_id, codes)  # reload the expired users at once
    now = utcnow()
    for user, updates, password in plans:
        if not updates and password is None:
            continue
        changes = {}
        for field, new in updates.items():
            changes[field] = [getattr(user, field), new]
            setattr(user, field, new)
        if any(field in updates for field in rules.SEARCH_FIELDS):
            user.search_text = _search_text_of(user)
        if password is not None:
            user.password_hash = new_hash[id(user)]
            changes["password"] = ["***", "***"]
        user.updated_at = now
        uow.add_event("user_updated", inst_id,
                      {"user_id": user.id, "code": user.code, "changes": changes})
    uow.commit()
    return [user_dict(user) for user, _u, _p in plans]


def update_user(uow, institution_id, code, changes):
    inst = _institution(uow.session, institution_id)
    code = _code_arg(code)
    if code is None:
        raise _user_not_found()
    return _apply_updates(uow, inst, [(None, code, changes)], batch=False)[0]


def update_users(uow, institution_id, rows):
    inst = _institution(uow.session, institution_id)
    _check_rows(rows)
    items = []
    for index, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            items.append((index, None, {}))
            continue
        changes = {k: v for k, v in row.items() if k != "code"}
        items.append((index, _code_arg(row.get("code")), changes))
    return {"updated": _apply_updates(uow, inst, items, batch=True)}


def _set_archived(uow, institution_id, code, archive):
    user = _load_user(uow.session, institution_id, code)
    if user is None:
        raise _user_not_found()
    if (user.archived_at is not None) != archive:
        now = utcnow()
        user.archived_at = now if archive else None
        user.updated_at = now
        uow.add_event("user_archived" if archive else "user_unarchived", user.institution_id,
                      {"user_id": user.id, "code": user.code, "type": user.type})
        uow.commit()
    return user_dict(user)


def archive_user(uow, institution_id, code):
    return _set_archived(uow, institution_id, code, True)


def unarchive_user(uow, institution_id, code):
    return _set_archived(uow, institution_id, code, False)


# --- reading users --------------------------------------------------------------------

def get_user(uow, institution_id, code):
    user = _load_user(uow.session, institution_id, code)
    if user is None:
        raise _user_not_found()
    return user_dict(user)


def get_users(uow, institution_id, codes, fields=None):
    """The users with these codes (unknown codes left out). With `fields` (a
    list of personal fields) only those, plus code, type, archived and
    updated_at: a light answer for callers comparing thousands of users (a
    CSV import's preview), read with one plain select per chunk."""
    iid = _to_id(institution_id)
    if iid is None or not isinstance(codes, (list, tuple)):
        return []
    wanted = list(dict.fromkeys(c for c in map(_code_arg, codes) if c is not None))
    if fields is not None:
        return _users_fields(uow.session, iid, wanted, fields)
    found = _users_by_code(uow.session, iid, wanted)
    return [user_dict(found[c]) for c in wanted if c in found]


def _users_fields(session, institution_id, codes, fields):
    names = [f for f in dict.fromkeys(fields if isinstance(fields, (list, tuple)) else [])
             if f in rules.PERSONAL_FIELDS]
    cols = [users.c.code, users.c.type, users.c.archived_at, users.c.updated_at] + \
        [users.c[f] for f in names]
    found = {}
    for chunk in _chunks(codes):
        for row in session.execute(sa.select(*cols).where(
                users.c.institution_id == institution_id, users.c.code.in_(chunk))):
            item = {"code": row.code, "type": row.type, "is_student": row.type == "student",
                    "archived": row.archived_at is not None, "updated_at": iso(row.updated_at)}
            item.update({f: row._mapping[f] for f in names})
            found[row.code] = item
    return [found[c] for c in codes if c in found]


def _search_text_of(user):
    return rules.search_text({field: getattr(user, field) for field in rules.SEARCH_FIELDS})


def _search_clause(q):
    """`q` as a substring of first name, last name, prefix, full name, e-mail or
    code, ignoring case and accents (rules.search_key on both sides: the stored
    users.search_text and q), the same on SQLite and PostgreSQL."""
    return User.search_text.like(rules.like_pattern(q), escape="\\")


def find_codes(uow, institution_id, q=None, registered=None, types=("student",)):
    """Codes of the institution's users matching `q` (as list_users' search:
    name, e-mail or code substring) and `registered` (True: has logged in at
    least once; False: never), of the given user types (None: every type),
    archived or not, ordered by name. The students service combines these with
    its own columns (student number, BSN) to search students."""
    iid = _to_id(institution_id)
    if iid is None:
        return []
    if registered is not None and not isinstance(registered, bool):
        raise validation_error([rules.value_invalid_item("registered")])
    if types is not None:
        if isinstance(types, str):
            types = [types]
        if not isinstance(types, (list, tuple)) or any(t not in rules.USER_TYPES for t in types):
            raise validation_error([error_item("user_type_invalid",
                                               rules.message("user_type_invalid"),
                                               field="types")])
    query = sa.select(User.code).where(User.institution_id == iid)
    if types is not None:
        query = query.where(User.type.in_(list(types)))
    if registered is True:
        query = query.where(User.last_login_at.is_not(None))
    elif registered is False:
        query = query.where(User.last_login_at.is_(None))
    q = _code_arg(q) if isinstance(q, (str, int)) and not isinstance(q, bool) else None
    if q:
        query = query.where(_search_clause(q))
    query = query.order_by(sa.func.lower(User.last_name), sa.func.lower(User.first_name),
                           User.code)
    return [code for (code,) in uow.session.execute(query)]


def list_users(uow, institution_id, filter="all", q=None, page=1, page_size=50):
    filter = rules.check_filter(filter)
    page, page_size = rules.page_args(page, page_size)
    iid = _to_id(institution_id)
    query = sa.select(User).where(User.institution_id == (iid if iid is not None else -1))
    if filter == "archived":
        query = query.where(User.archived_at.is_not(None))
    else:
        query = query.where(User.archived_at.is_(None))
        if filter == "students":
            query = query.where(User.type == "student")
        elif filter == "employees":
            query = query.where(User.type == "employee")
    q = _code_arg(q) if isinstance(q, (str, int)) else None
    if q:
        query = query.where(_search_clause(q))
    total = uow.session.execute(
        sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    items = uow.session.execute(
        query.order_by(sa.func.lower(User.last_name), sa.func.lower(User.first_name), User.code)
        .limit(page_size).offset((page - 1) * page_size)).scalars()
    return {"items": [user_dict(u) for u in items], "total": total,
            "page": page, "page_size": page_size}


# --- authentication -------------------------------------------------------------------

def _invalid_credentials():
    return DomainError("invalid_credentials", rules.message("invalid_credentials"), status=401)


def principal(user, inst):
    return {
        "user_id": user.id, "institution_id": inst.id,
        "institution": rules.PLATFORM_KEY if inst.is_platform else inst.brin,
        "code": user.code, "type": user.type, "roles": sorted(user.roles or []),
        "is_platform": bool(inst.is_platform),
    }


def _login_institution(session, institution):
    kind, brin = rules.parse_login_institution(institution)
    if kind == rules.PLATFORM_KEY:
        return session.execute(sa.select(Institution).where(
            Institution.key == rules.PLATFORM_KEY)).scalar_one_or_none()
    if kind != "brin":
        return None
    inst = session.execute(sa.select(Institution).where(
        Institution.brin == brin)).scalar_one_or_none()
    if inst is None and len(brin) == 4:
        # a 4-character BRIN names the school when it has exactly one branch here
        candidates = session.execute(sa.select(Institution).where(
            Institution.brin.like(brin + "__")).limit(2)).scalars().all()
        inst = candidates[0] if len(candidates) == 1 else None
    return inst


def _record_failure(session, key, now):
    """failures += 1 for `key`, atomically (an upsert)."""
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(login_throttle).values(key=key, failures=1, last_failure_at=now)
        session.execute(stmt.on_conflict_do_update(
            index_elements=[login_throttle.c.key],
            set_={"failures": login_throttle.c.failures + 1, "last_failure_at": now}))
        return
    result = session.execute(  # pragma: no cover - other databases
        sa.update(login_throttle).where(login_throttle.c.key == key)
        .values(failures=login_throttle.c.failures + 1, last_failure_at=now))
    if result.rowcount == 0:  # pragma: no cover
        session.execute(sa.insert(login_throttle).values(key=key, failures=1,
                                                         last_failure_at=now))


def authenticate(uow, institution, code, password, now=None):
    """The principal of the account, or invalid_credentials (401) for every
    kind of failure, or too_many_attempts (429) while throttled."""
    now = now or utcnow()
    session = uow.session
    key = rules.throttle_key(institution, code)
    throttle = session.get(LoginThrottle, key)
    if throttle is not None:
        remaining = rules.throttle_remaining(throttle.failures, throttle.last_failure_at, now)
        if remaining > 0:
            seconds = rules.retry_after(remaining)
            raise DomainError("too_many_attempts", rules.too_many_attempts_message(seconds),
                              status=429, extra={"retry_after": seconds})
    inst = _login_institution(session, institution)
    login_code = _code_arg(code) if isinstance(code, (str, int)) else None
    user = _load_user(session, inst.id, login_code) if inst is not None and login_code else None
    found = None
    if user is not None:
        found = (user.id, user.password_hash, user.archived_at is None, principal(user, inst))
    session.rollback()  # hand the connection back while the password is checked

    password_ok = passwords.verify_password(found[1] if found else None, password)
    if not (found and password_ok and found[2]):
        _record_failure(session, key, now)
        uow.commit()
        raise _invalid_credentials()

    user_id, password_hash, _active, result = found
    values = {"last_login_at": now}
    if passwords.needs_rehash(password_hash):
        values["password_hash"] = passwords.hash_password(password)
    session.execute(sa.update(users).where(users.c.id == user_id).values(**values))
    session.execute(sa.delete(login_throttle).where(login_throttle.c.key == key))
    uow.commit()
    return result


def get_principal(uow, user_id):
    uid = _to_id(user_id)
    user = uow.session.get(User, uid) if uid is not None else None
    if user is None or user.archived_at is not None:
        raise DomainError("token_invalid", rules.message("token_invalid"), status=401)
    return principal(user, uow.session.get(Institution, user.institution_id))
