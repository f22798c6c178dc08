"""Reading accounts: one, many by code, a page of a list, codes by search."""

import sqlalchemy as sa

from services.common.errors import error_item, validation_error
from services.common.paging import page_args
from services.common.times import iso

from . import account_rules, rules, search
from .models import User, users
from .store import chunks, code_arg, to_id, user_dict, user_not_found, users_by_code

# A Core row is all the answer needs (no ORM object); the statement is built once.
_USER_ROW = sa.select(users).where(
    users.c.institution_id == sa.bindparam("iid"), users.c.code == sa.bindparam("code"))


def get_user(uow, institution_id, code):
    iid, code = to_id(institution_id), code_arg(code)
    row = None
    if iid is not None and code is not None:
        row = uow.read_one(_USER_ROW, {"iid": iid, "code": code})
    if row is None:
        raise user_not_found()
    return user_dict(row)


def get_users(uow, institution_id, codes, fields=None):
    """The users with these codes (unknown codes left out). With `fields` (a
    list of personal fields) only those, plus code, type, archived and
    updated_at: a light answer for callers comparing thousands of users (a
    CSV import's preview), read with one plain select per chunk."""
    iid = to_id(institution_id)
    if iid is None or not isinstance(codes, (list, tuple)):
        return []
    wanted = list(dict.fromkeys(c for c in map(code_arg, codes) if c is not None))
    if fields is not None:
        return _users_fields(uow.session, iid, wanted, fields)
    found = users_by_code(uow.session, iid, wanted)
    return [user_dict(found[c]) for c in wanted if c in found]


def _users_fields(session, institution_id, codes, fields):
    names = [f for f in dict.fromkeys(fields if isinstance(fields, (list, tuple)) else [])
             if f in rules.PERSONAL_FIELDS]
    cols = [users.c.code, users.c.type, users.c.archived_at, users.c.updated_at] + \
        [users.c[f] for f in names]
    found = {}
    for chunk in chunks(codes):
        for row in session.execute(sa.select(*cols).where(
                users.c.institution_id == institution_id, users.c.code.in_(chunk))):
            item = {"code": row.code, "type": row.type, "is_student": row.type == "student",
                    "archived": row.archived_at is not None, "updated_at": iso(row.updated_at)}
            item.update({f: row._mapping[f] for f in names})
            found[row.code] = item
    return [found[c] for c in codes if c in found]


def _search_clause(q):
    """`q` as a substring of first name, last name, prefix, full name, e-mail or
    code, ignoring case and accents (search.search_key on both sides: the stored
    users.search_text and q), the same on SQLite and PostgreSQL."""
    return User.search_text.like(search.like_pattern(q), escape="\\")


def find_codes(uow, institution_id, q=None, registered=None, types=("student",)):
    """Codes of the institution's users matching `q` (as list_users' search:
    name, e-mail or code substring) and `registered` (True: has logged in at
    least once; False: never), of the given user types (None: every type),
    archived or not, ordered by name. The students service combines these with
    its own columns (student number, BSN) to search students."""
    iid = to_id(institution_id)
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
    q = code_arg(q) if isinstance(q, (str, int)) and not isinstance(q, bool) else None
    if q:
        query = query.where(_search_clause(q))
    query = query.order_by(sa.func.lower(User.last_name), sa.func.lower(User.first_name),
                           User.code)
    return [code for (code,) in uow.session.execute(query)]


def list_users(uow, institution_id, filter="all", q=None, page=1, page_size=50):
    filter = account_rules.check_filter(filter)
    page, page_size = page_args(page, page_size)
    iid = to_id(institution_id)
    query = sa.select(User).where(User.institution_id == (iid if iid is not None else -1))
    if filter == "archived":
        query = query.where(User.archived_at.is_not(None))
    else:
        query = query.where(User.archived_at.is_(None))
        if filter == "students":
            query = query.where(User.type == "student")
        elif filter == "employees":
            query = query.where(User.type == "employee")
    q = code_arg(q) if isinstance(q, (str, int)) else None
    if q:
        query = query.where(_search_clause(q))
    total = uow.session.execute(
        sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    items = uow.session.execute(
        query.order_by(sa.func.lower(User.last_name), sa.func.lower(User.first_name), User.code)
        .limit(page_size).offset((page - 1) * page_size)).scalars()
    return {"items": [user_dict(u) for u in items], "total": total,
            "page": page, "page_size": page_size}
