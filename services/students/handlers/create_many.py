"""Creating many students at once (a batch of rows), optionally placed in a project."""
import logging

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.common import bulk
from services.common import fields as fieldrules
from services.common.errors import error_item, validation_error
from services.common.outbox import utcnow

from .. import lookups, rules
from ..models import PARTICIPATION_KEYS, bsn_audit, participations, students
from .support import (EVENT_CHUNK, ORIGIN, _actor_fields, _compensate, _conflict_from,
                      _create_accounts, _id_fields, _registered_data, _release)

log = logging.getLogger(__name__)


def _check_rows(rows):
    if not isinstance(rows, (list, tuple)):
        raise validation_error([error_item("rows_invalid", rules.message("rows_invalid"),
                                           field="rows")])
    if len(rows) > rules.MAX_BATCH_ROWS:
        raise validation_error([error_item("too_many_rows", rules.message("too_many_rows"),
                                           field="rows")])


def _validate_rows(rows, departments):
    """(records, personals, parts, errors) for a batch; errors carry `row`."""
    records, personals, parts, errors = [], [], [], []
    clean, checked = fieldrules.batch_clean(), {}
    for index, data in enumerate(rows, 1):
        record, personal, row_errors = rules.check_new_student(data, require_initials=False,
                                                               clean=clean, memo=checked)
        row_parts = _row_participations(data, departments, record, row_errors, checked)
        for item in row_errors:
            item["row"] = index
            errors.append(item)
        records.append(record)
        personals.append(personal)
        parts.append(row_parts)
    return records, personals, parts, errors


def _row_participations(data, departments, record, row_errors, checked=None):
    """The clean participations of one row of create_students: `participation`
    (one) or `participations` (a list: one per department, with the forecast
    rules of rules.forecast_errors). Errors are appended to row_errors.
    `checked`: the batch's outcomes so far (_check_participation)."""
    if not isinstance(data, dict):
        return []
    one, many = data.get("participation"), data.get("participations")
    if one is None and many is None:
        return []
    if departments is None:
        row_errors.append(error_item(
            "project_required", "Geef een roosterproject op om afdelingsdeelnames "
                                "aan te maken.", field="participation"))
        return []
    if one is not None and many is not None:
        row_errors.append(error_item(
            "value_invalid", "Geef participation of participations, niet allebei.",
            field="participations"))
        return []
    if one is not None:
        raws, field = [one], "participation"
    elif isinstance(many, (list, tuple)):
        raws, field = list(many), "participations"
    else:
        row_errors.append(rules.value_invalid_item("participations"))
        return []
    clean_parts, failed = [], False
    for raw in raws:
        part, part_errors = _check_participation(raw, departments, checked)
        row_errors.extend({**e, "field": f"{field}.{e.get('field')}"} for e in part_errors)
        failed = failed or bool(part_errors)
        clean_parts.append(part)
    if failed:
        return []
    number = (record or {}).get("student_number")
    twice = rules.duplicate_department(clean_parts)
    if twice is not None:
        row_errors.append(error_item(
            "duplicate_department", f"Afdeling {twice} staat meer dan eens bij deze leerling.",
            field=f"{field}.department"))
        return []
    for item in rules.forecast_errors(number, clean_parts):
        item.pop("department", None)
        row_errors.append({**item, "field": f"{field}.forecast"})
    return clean_parts


def _check_participation(raw, departments, checked):
    """rules.check_participation, once per distinct participation of a batch
    (the rows of a list share a department and a few classes): `checked` maps
    its (key, type, value) items to the outcome; a copy is answered."""
    if checked is None or not isinstance(raw, dict):
        return rules.check_participation(raw, departments)
    try:
        key = tuple((k, v.__class__, v) for k, v in raw.items())
        found = checked.get(key)
    except TypeError:  # a list or dict among the values: checked as it is
        return rules.check_participation(raw, departments)
    if found is None:
        found = checked[key] = rules.check_participation(raw, departments)
    part, part_errors = found
    return (dict(part) if part is not None else None), [dict(e) for e in part_errors]


def _duplicates_and_existing(session, iid, records, errors):
    first_number, first_bsn = {}, {}
    for index, record in enumerate(records, 1):
        if not record:
            continue
        number, bsn = record["student_number"], record["bsn"]
        if number is not None:
            if number in first_number:
                errors.append(error_item(
                    "student_exists", f"Leerlingnummer {number} staat meer dan eens in de lijst "
                                      f"(ook in rij {first_number[number]}).",
                    field="student_number", row=index))
            else:
                first_number[number] = index
        if bsn:
            if bsn in first_bsn:
                errors.append(error_item(
                    "bsn_exists", f"Dit BSN staat meer dan eens in de lijst (ook in rij "
                                  f"{first_bsn[bsn]}).", field="bsn", row=index))
            else:
                first_bsn[bsn] = index
    for chunk in lookups.chunks(first_number):
        for (number,) in session.execute(sa.select(students.c.student_number).where(
                students.c.institution_id == iid,
                bulk.among(session, students.c.student_number, chunk))):
            errors.append(error_item("student_exists", rules.student_exists_message(number),
                                     field="student_number", row=first_number[number]))
    for chunk in lookups.chunks(first_bsn):
        for (bsn,) in session.execute(sa.select(students.c.bsn).where(
                students.c.institution_id == iid, bulk.among(session, students.c.bsn, chunk))):
            errors.append(error_item("bsn_exists", rules.bsn_exists_message(), field="bsn",
                                     row=first_bsn[bsn]))


def create_students(uow, users, institution_id, rows, project_id=None, actor=None,
                    origin_key=None):
    """Create many students (accounts, records, optional participations in
    `project_id`: a row's `participation`, or `participations` for several
    departments) as one all-or-nothing operation.

    Every row is validated first; any error answers one DomainError listing
    each (1-based `row`, `field`) and nothing is written. Then one
    users.create_users call, then Core bulk inserts of records, participations
    and audit rows in one transaction, whose events go out per chunk of
    EVENT_CHUNK records (`students_registered_batch`,
    `participations_created_batch`). When that transaction fails the accounts
    are discarded again.

    `origin_key` names the operation (a list load: "submission:<id>"): it is
    stored with accounts and records, so a retry after a crash between the
    two steps adopts the accounts of its earlier attempt instead of failing
    on user_exists, and count_by_origin tells what the operation stored.

    The two steps of this process's own work, checking the rows and writing
    them, each hold `uow.lane` (the service sets it: one batch at a time per
    process), and let go of it while the users service creates the accounts.
    Batches of one list load, sent together, then flow through as a
    pipeline: one is checked here while the accounts of the one before are
    made and the records of the one before that are written.
    """
    lane = uow.lane
    iid = lookups.institution_id_of(institution_id)
    key = _batch_origin(origin_key)
    _check_rows(rows)
    rows = list(rows)
    session = uow.session
    project, departments = None, None
    with lane:
        if project_id is not None:
            project = lookups.load_project(session, iid, project_id)
            dept_objects = lookups.departments_of(session, project.id)
            departments = lookups.department_dicts(dept_objects)
        records, personals, parts, errors = _validate_rows(rows, departments)
        _duplicates_and_existing(session, iid, records, errors)
        if errors:
            raise rules.rows_error(errors)
        if not rows:
            return {"created": 0, "student_numbers": []}
        _release(uow)

    numbers = [r["student_number"] for r in records]
    created = _create_accounts(
        users, iid, numbers, users.create_users, iid,
        [{"code": r["student_number"], "type": "student", "roles": ["student"], **p}
         for r, p in zip(records, personals)], batch_events=True, origin=ORIGIN,
        origin_key=key, brief=True,
        discard=lambda: _without_records(session, iid, numbers))["created"]
    user_ids = {u["code"]: u["id"] for u in created}
    try:
        with lane:
            _bulk_insert(uow, iid, project, departments, records, parts, user_ids, actor, key)
        # outside the lane: the next batch is checked while this commit waits
        # on the database (which checks the deferred keys of its participations)
        uow.commit()
    except Exception as exc:
        uow.rollback()
        _compensate(users, iid, _without_records(session, iid, numbers), batch_events=True)
        if isinstance(exc, IntegrityError):
            raise _conflict_from(exc) from None
        raise
    return {"created": len(numbers), "student_numbers": numbers}


def _without_records(session, iid, numbers):
    """The numbers no record holds: the accounts a failed create may discard. A
    concurrent create of the same rows with the same origin (a repeated request
    on another replica) adopted the same accounts; its records keep them."""
    try:
        held = set(session.execute(sa.select(students.c.student_number).where(
            students.c.institution_id == iid, students.c.student_number.in_(numbers))).scalars())
        session.rollback()
    except Exception:
        log.exception("could not tell which accounts are in use; discarding all")
        return numbers
    return [n for n in numbers if n not in held]


def _batch_origin(value):
    if value is None:
        return None
    if not (isinstance(value, str) and 0 < len(value) <= 80 and value.isascii()
            and value.isprintable()):
        raise validation_error([error_item("value_invalid", "Ongeldige herkomstsleutel.",
                                           field="origin_key")])
    return value


def count_by_origin(uow, institution_id, origin_key):
    """How many records the operation `origin_key` created (and still exist)."""
    iid = lookups.institution_id_of(institution_id)
    key = _batch_origin(origin_key)
    if key is None:
        return 0
    return uow.session.execute(sa.select(sa.func.count()).select_from(students).where(
        students.c.institution_id == iid, students.c.origin_key == key)).scalar_one()


def _bulk_insert(uow, iid, project, departments, records, parts, user_ids, actor,
                 origin_key=None):
    session = uow.session
    now = utcnow()
    values = [{
        "institution_id": iid, "student_number": r["student_number"],
        "user_id": user_ids.get(r["student_number"]), "type": r["type"], "bsn": r["bsn"],
        "onderwijsnummer": r["onderwijsnummer"], "date_of_birth": r["date_of_birth"],
        "year_of_education": r["year_of_education"], "track": r["track"],
        "home_class": r["home_class"], "left_at": None, "created_at": now, "updated_at": now,
        "origin_key": origin_key,
    } for r in records]
    student_ids = bulk.insert_many(session, students, values, return_ids=True)

    actor_id, actor_code = _actor_fields(actor)
    audits = [{"institution_id": iid, "student_id": sid, "student_number": r["student_number"],
               "action": "create", "fields": _id_fields(r["bsn"], r["onderwijsnummer"]),
               "actor_user_id": actor_id, "actor_code": actor_code, "at": now}
              for sid, r in zip(student_ids, records) if r["bsn"] or r["onderwijsnummer"]]
    bulk.insert_many(session, bsn_audit, audits)

    registered = [_registered_data(r, user_ids.get(r["student_number"])) for r in records]
    for chunk in lookups.chunks(registered, EVENT_CHUNK):
        uow.add_event("students_registered_batch", iid, {"count": len(chunk),
                                                         "students": chunk})

    placed = [(sid, r, p) for sid, r, row_parts in zip(student_ids, records, parts)
              for p in row_parts]
    if not placed:
        return
    part_values = [{
        "institution_id": iid, "project_id": project.id, "student_id": sid,
        "department_id": departments[p["department"]]["id"], "forecast": p["forecast"],
        "profile": p["profile"], "programme": p["programme"],
        "learning_path": p["learning_path"], "home_class": p["home_class"],
        "lwoo": p["lwoo"], "subjects": [], "exemptions": [], "created_at": now,
        "updated_at": now,
    } for sid, _r, p in placed]
    if session.get_bind().dialect.name == "postgresql":
        # checked at commit, not per row during the COPY, which holds the process
        session.execute(sa.text(f"SET CONSTRAINTS {', '.join(PARTICIPATION_KEYS)} DEFERRED"))
    part_ids = bulk.insert_many(session, participations, part_values, return_ids=True)
    created = [{"participation_id": pid, "student_number": r["student_number"],
                "department": p["department"], "forecast": p["forecast"],
                "profile": p["profile"], "programme": p["programme"],
                "learning_path": p["learning_path"], "home_class": p["home_class"],
                "lwoo": p["lwoo"]}
               for pid, (_sid, r, p) in zip(part_ids, placed)]
    for chunk in lookups.chunks(created, EVENT_CHUNK):
        uow.add_event("participations_created_batch", iid, {
            "project_id": project.id, "school_year": project.school_year,
            "count": len(chunk), "participations": chunk})
