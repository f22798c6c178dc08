"""Changing accounts: personal data, type, roles, password; archiving."""


from services.common.errors import conflict, error_item, validation_error
from services.common.outbox import utcnow

from . import account_rules, passwords, rules, search
from .store import (
    check_rows,
    code_arg,
    institution_or_404,
    load_user,
    repeated_code_item,
    rows_error,
    user_dict,
    user_not_found,
    users_by_code,
)


def _current(user):
    values = {field: getattr(user, field) for field in rules.PERSONAL_FIELDS}
    values.update(code=user.code, type=user.type, roles=sorted(user.roles or []))
    return values


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
            errors.append(repeated_code_item("duplicate_row", code, row, first_row[code]))
        else:
            first_row[code] = row
            codes.append(code)
    found = users_by_code(session, inst_id, codes, lock=True)

    plans = []
    for row, code, changes in items:
        if code is None or first_row.get(code) != row:
            continue
        user = found.get(code)
        if user is None:
            if not batch:
                raise user_not_found()
            errors.append(error_item("not_found", f"Geen gebruiker met code {code}.",
                                     field="code", row=row))
            continue
        updates, password, row_errors = account_rules.check_changes(
            _current(user), changes, is_platform=is_platform)
        errors.extend({**e, "row": row} if batch else e for e in row_errors)
        plans.append((user, updates, password, _current(user)))
    if errors:
        raise rows_error(errors) if batch else validation_error(errors)

    to_hash = [p for p in plans if p[2] is not None]
    new_hash = {}
    if to_hash:
        session.rollback()  # hand the connection back (and the locks) while hashing
        hashes = passwords.hash_passwords(p[2] for p in to_hash)
        new_hash = {id(p[0]): h for p, h in zip(to_hash, hashes, strict=True)}
        users_by_code(session, inst_id, codes, lock=True)  # reload the expired users at once
        if any(_current(user) != judged for user, _u, _p, judged in plans):
            # Changed by someone else while hashing: the change was judged on
            # what is no longer there. The later change wins as a whole or not.
            session.rollback()
            raise conflict("user_changed", rules.MESSAGES["user_changed"])
    now = utcnow()
    for user, updates, password, _judged in plans:
        if not updates and password is None:
            continue
        changes = {}
        for field, new in updates.items():
            changes[field] = [getattr(user, field), new]
            setattr(user, field, new)
        if any(field in updates for field in search.SEARCH_FIELDS):
            user.search_text = _search_text_of(user)
        if password is not None:
            user.password_hash = new_hash[id(user)]
            changes["password"] = ["***", "***"]
        user.updated_at = now
        uow.add_event("user_updated", inst_id,
                      {"user_id": user.id, "code": user.code, "changes": changes})
    uow.commit()
    return [user_dict(plan[0]) for plan in plans]


def update_user(uow, institution_id, code, changes):
    inst = institution_or_404(uow.session, institution_id)
    code = code_arg(code)
    if code is None:
        raise user_not_found()
    return _apply_updates(uow, inst, [(None, code, changes)], batch=False)[0]


def update_users(uow, institution_id, rows):
    inst = institution_or_404(uow.session, institution_id)
    check_rows(rows)
    items = []
    for index, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            items.append((index, None, {}))
            continue
        changes = {k: v for k, v in row.items() if k != "code"}
        items.append((index, code_arg(row.get("code")), changes))
    return {"updated": _apply_updates(uow, inst, items, batch=True)}


def _set_archived(uow, institution_id, code, archive):
    user = load_user(uow.session, institution_id, code, lock=True)
    if user is None:
        raise user_not_found()
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


def _search_text_of(user):
    return search.search_text({field: getattr(user, field) for field in search.SEARCH_FIELDS})
