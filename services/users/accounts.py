"""Creating accounts (one, or many all-or-nothing) and their compensation:
discarding just-created accounts, listing accounts an operation may not have
finished."""
import datetime as dt
import functools

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.common import bulk
from services.common import fields as fieldrules
from services.common.errors import conflict, error_item, validation_error
from services.common.outbox import utcnow
from services.common.times import as_utc, iso

from . import account_rules, passwords, search
from .models import users
from .store import (
    check_rows,
    chunks,
    code_arg,
    institution_or_404,
    repeated_code_item,
    rows_error,
    user_dict,
)

# Batch events (users_created_batch, users_discarded_batch) carry this many users each.
EVENT_CHUNK = 500
# discard_users removes only accounts younger than this that never logged in.
DISCARD_WINDOW = dt.timedelta(hours=1)


def _created_event(user, origin=None):
    """The event data of a new account (`user`: its column values).
    `origin`: the service that creates the account as part of its own
    operation ("students" for a student record made with it); consumers that
    react to new accounts skip what that service is already doing."""
    data = {
        "user_id": user["id"], "code": user["code"], "type": user["type"],
        "roles": sorted(user["roles"] or []), "initials": user["initials"],
        "first_name": user["first_name"], "prefix": user["prefix"],
        "last_name": user["last_name"], "email": user["email"],
    }
    if origin is not None:
        data["origin"] = origin
    return data


class _Values(dict):
    """Column values read like a Core row (for user_dict)."""
    __getattr__ = dict.__getitem__


def full_dict(user):
    """The answer for a new account (`user`: its column values): user_dict."""
    return user_dict(_Values(user))


def brief_dict(user):
    """What a loader needs of a new account (create_users with `brief`): its
    id and code, and when it was written (an import's undo compares it)."""
    return {"id": user["id"], "code": user["code"], "updated_at": _iso(user["updated_at"])}


@functools.lru_cache(maxsize=64)
def _iso(value):
    """times.iso, once per moment: the accounts of one batch share theirs."""
    return iso(value)


def _origin(value):
    return value if isinstance(value, str) and value.isidentifier() and len(value) <= 30 \
        else None


def _single_error(errors):
    if all(e["code"] == "user_exists" for e in errors):
        return conflict("user_exists", errors[0]["message"], field="code")
    return validation_error(errors)


def _exists_item(code, row=None):
    return error_item("user_exists",
                      f"Er bestaat al een gebruiker met code {code} binnen deze instelling.",
                      field="code", row=row)


def _origin_key(value):
    """The key of the operation creating accounts: printable ASCII, <= 80."""
    if value is None:
        return None
    if isinstance(value, str) and 0 < len(value) <= 80 and value.isascii() \
            and value.isprintable():
        return value
    raise validation_error([error_item("value_invalid", "Ongeldige herkomstsleutel.",
                                       field="origin_key")])


def _insert_users(uow, inst, rows, batch, batch_events=False, origin=None, origin_key=None,
                  answer=full_dict):
    """Validate every row, then insert them all in one statement. Raises one
    DomainError for all bad rows; writes nothing then. With `batch_events` the
    new users are announced as `users_created_batch` events of up to
    EVENT_CHUNK users each instead of one `user_created` per user.

    With `origin_key` (the operation: a list load, a request) an existing
    account created under that same key is adopted, not refused: the retry of
    an operation that crashed after this step gets its accounts back (no new
    event: the first attempt announced them). An account of any other origin
    stays user_exists. Returns `answer` of each user, in the order of `rows`."""
    for attempt in range(2):
        try:
            return _insert_users_once(uow, inst, rows, batch, batch_events, origin, origin_key,
                                      answer)
        except _Raced:
            if attempt or origin_key is None:
                raise _codes_taken() from None
            # a concurrent attempt of the same operation: adopt what it inserted


def _codes_taken():
    return conflict("user_exists", "Er bestaat al een gebruiker met een van deze codes "
                                   "binnen deze instelling.", field="code")


class _Raced(Exception):
    pass


def _insert_users_once(uow, inst, rows, batch, batch_events, origin, origin_key, answer):
    with uow.lane:  # let go of while hashing: _insert_clean takes it again to write
        cleans, adopted = _checked_rows(uow, inst, rows, batch, origin_key, answer)
    if not cleans:
        return []
    if adopted:
        new_rows = [c for c in cleans if c["code"] not in adopted]
        created = _insert_clean(uow, inst, new_rows, batch_events, origin, origin_key, answer)
        by_code = {**adopted, **{u["code"]: u for u in created}}
        return [by_code[c["code"]] for c in cleans]
    return _insert_clean(uow, inst, cleans, batch_events, origin, origin_key, answer)


def _checked_rows(uow, inst, rows, batch, origin_key, answer):
    """(clean rows, {code: answer} of the accounts adopted) or one DomainError
    for every bad row."""
    session = uow.session
    errors, cleans = [], []
    clean_field = fieldrules.batch_clean() if batch else fieldrules.clean
    for index, data in enumerate(rows, 1):
        clean, row_errors = account_rules.check_new_user(data, is_platform=bool(inst.is_platform),
                                                         clean_field=clean_field)
        for item in row_errors:
            errors.append({**item, "row": index} if batch else item)
        cleans.append(clean)

    first_row = {}
    for index, clean in enumerate(cleans, 1):
        code = clean["code"] if clean else None
        if code is None:
            continue
        if code in first_row:
            errors.append(repeated_code_item("user_exists", code, index, first_row[code]))
        else:
            first_row[code] = index
    adopted = {}
    if first_row:
        for chunk in chunks(list(first_row)):
            for row in session.execute(
                    sa.select(users).where(users.c.institution_id == inst.id,
                                           bulk.among(session, users.c.code, chunk))):
                if origin_key is not None and row.origin_key == origin_key:
                    adopted[row.code] = answer(row._mapping)
                else:
                    errors.append(_exists_item(row.code, first_row[row.code] if batch else None))
    if errors:
        raise rows_error(errors) if batch else _single_error(errors)
    return cleans, adopted


def _insert_clean(uow, inst, cleans, batch_events, origin, origin_key, answer=full_dict):
    """Insert validated rows (COPY on PostgreSQL: services/common/bulk.py)
    with their events; `answer` of each new user."""
    session = uow.session
    if not cleans:
        session.rollback()
        return []

    inst_id = inst.id
    with_password = [i for i, c in enumerate(cleans) if c["password"] is not None]
    if with_password:
        session.rollback()  # hand the connection back while hashing
    hashes = dict(zip(with_password,
                      passwords.hash_passwords(cleans[i]["password"] for i in with_password),
                      strict=True))
    with uow.lane:
        return _write_clean(uow, inst_id, cleans, hashes, batch_events, origin, origin_key,
                            answer)


def _write_clean(uow, inst_id, cleans, hashes, batch_events, origin, origin_key, answer):
    session = uow.session
    now = utcnow()
    values = []
    for index, clean in enumerate(cleans):
        row = {k: v for k, v in clean.items() if k != "password"}
        row.update(institution_id=inst_id, password_hash=hashes.get(index), archived_at=None,
                   last_login_at=None, created_at=now, updated_at=now,
                   search_text=search.search_text(row), origin_key=origin_key)
        values.append(row)
    try:
        ids = bulk.insert_many(session, users, values, return_ids=True)
    except IntegrityError:  # a concurrent request took one of the codes
        session.rollback()
        raise _Raced() from None
    for row, new_id in zip(values, ids, strict=True):
        row["id"] = new_id
    created = values
    if batch_events:
        for chunk in chunks(created, EVENT_CHUNK):
            uow.add_event("users_created_batch", inst_id, {
                "count": len(chunk),
                "users": [_created_event(user, origin) for user in chunk]})
    else:
        for user in created:
            uow.add_event("user_created", inst_id, _created_event(user, origin))
    uow.commit()
    return [answer(user) for user in created]


def create_user(uow, institution_id, data, origin=None, origin_key=None):
    """One user. With `origin_key`, the account that key created before is
    answered (adopted) instead of user_exists."""
    inst = institution_or_404(uow.session, institution_id)
    return _insert_users(uow, inst, [data], batch=False, origin=_origin(origin),
                         origin_key=_origin_key(origin_key))[0]


def create_users(uow, institution_id, rows, batch_events=False, origin=None, origin_key=None,
                 brief=False):
    """Create many users at once (all or nothing). `batch_events=True` (the
    loaders: students.create_students) publishes one `users_created_batch` per
    EVENT_CHUNK users: a confirmed message per row would be the slowest step.
    `origin_key`: see _insert_users (accounts of the same operation adopted).
    `brief`: answer only each user's id and code (brief_dict), not the record:
    a loader of thousands needs no more, and the reply is a fraction."""
    inst = institution_or_404(uow.session, institution_id)
    check_rows(rows)
    return {"created": _insert_users(uow, inst, list(rows), batch=True,
                                     batch_events=bool(batch_events),
                                     origin=_origin(origin),
                                     origin_key=_origin_key(origin_key),
                                     answer=brief_dict if brief else full_dict)}


def discard_users(uow, institution_id, codes, batch_events=False, now=None):
    """Hard-delete just-created accounts: the compensation of a composite
    operation whose later step failed (students.create_student(s)).

    Only users that never logged in and were created less than DISCARD_WINDOW
    ago are deleted; any other listed user is kept (and returned as such), so
    this can never erase an account in use. Unknown codes are ignored. Emits
    `user_discarded` per user, or `users_discarded_batch` per EVENT_CHUNK users
    with `batch_events`.
    """
    inst = institution_or_404(uow.session, institution_id)
    if not isinstance(codes, (list, tuple)):
        raise validation_error([error_item("value_invalid", "Geef een lijst met codes.",
                                           field="codes")])
    wanted = list(dict.fromkeys(c for c in map(code_arg, codes) if c is not None))
    now = now or utcnow()
    cutoff = now - DISCARD_WINDOW
    session = uow.session
    found = []
    for chunk in chunks(wanted):
        found.extend(session.execute(
            sa.select(users.c.id, users.c.code, users.c.type, users.c.last_login_at,
                      users.c.created_at)
            .where(users.c.institution_id == inst.id, users.c.code.in_(chunk))).all())
    gone = [u for u in found
            if u.last_login_at is None and as_utc(u.created_at) >= cutoff]
    gone_ids = {u.id for u in gone}
    for chunk in chunks([u.id for u in gone]):
        session.execute(sa.delete(users).where(users.c.id.in_(chunk)))
    records = [{"user_id": u.id, "code": u.code, "type": u.type} for u in gone]
    if batch_events:
        for chunk in chunks(records, EVENT_CHUNK):
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
