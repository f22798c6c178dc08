"""Use cases of the students service: student records, batches, the BSN audit
trail, a student leaving school, and the reactions to users' events.

Each function takes an entered UnitOfWork (services/common/db.py) and, where
it needs personal data or accounts, `users`: a client of the users service
(the nameko RpcProxy in the service; any object with the same methods in
tests). It does one command or query, commits with its events, and returns
plain JSON-able values. Placements (projects ... groups) are in placements.py.

Creating a student is one operation across two services: everything is
validated here first (including the student number and BSN being free), then
the users service creates the account, then the record is inserted. When the
insert fails the account is removed again with users.discard_users (it has
never logged in and is minutes old), so either both exist or neither.

The database connection is handed back before every call to the users service,
so a slow RPC never holds one of the few connections (one, on SQLite).

BSN and onderwijsnummer never appear in logs or events; events name the
student by student number.
"""
import datetime as dt
import logging
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.common import events
from services.common.errors import (DomainError, conflict, error_item, forbidden,
                                    validation_error)
from services.common.outbox import utcnow

from . import bulk, lookups, placements, rules
from .lookups import iso
from .models import (BsnAudit, Project, Student, bsn_audit, participations,
                     processed_events, students)

log = logging.getLogger(__name__)

# Batch events carry up to this many records each.
EVENT_CHUNK = 500
# Accounts this service creates together with their record carry this origin in
# users' creation events, so the account reactions below skip them.
ORIGIN = "students"
try:
    LOCAL_TZ = ZoneInfo("Europe/Amsterdam")
except Exception:  # pragma: no cover - no time zone database installed
    LOCAL_TZ = dt.timezone.utc


def today():
    """Today in the Netherlands (school years are Dutch)."""
    return dt.datetime.now(LOCAL_TZ).date()



def _release(uow):
    """End the read transaction so the connection goes back to the pool
    (objects stay loaded: expire_on_commit is off)."""
    uow.session.commit()


def _actor_fields(actor):
    if not isinstance(actor, dict):
        return None, None
    user_id = lookups.to_id(actor.get("user_id"))
    code = actor.get("code") if isinstance(actor.get("code"), str) else None
    return user_id, code


def _id_fields(bsn, onderwijsnummer):
    return ",".join(f for f, v in (("bsn", bsn), ("onderwijsnummer", onderwijsnummer)) if v)


def _audit(session, student, action, fields, actor, at=None):
    user_id, code = _actor_fields(actor)
    session.add(BsnAudit(institution_id=student.institution_id, student_id=student.id,
                         student_number=student.student_number, action=action,
                         fields=fields, actor_user_id=user_id, actor_code=code,
                         at=at or utcnow()))


def _registered_data(record, user_id):
    return {"student_number": record["student_number"], "user_id": user_id,
            "type": record["type"], "year_of_education": record["year_of_education"],
            "track": record["track"], "home_class": record["home_class"],
            "has_bsn": bool(record["bsn"]), "has_onderwijsnummer": bool(record["onderwijsnummer"])}


def _user_of(users, institution_id, number):
    found = users.get_users(institution_id, [number])
    return found[0] if found else None


def _conflict_from(exc, number=None):
    text = str(getattr(exc, "orig", exc)).lower()
    if "bsn" in text:
        return conflict("bsn_exists", rules.bsn_exists_message(), field="bsn")
    return conflict("student_exists", rules.student_exists_message(number or ""),
                    field="student_number")


def _compensate(users, institution_id, numbers, batch_events=False):
    """Remove the accounts just created for a failed create (never raises)."""
    try:
        result = users.discard_users(institution_id, list(numbers), batch_events=batch_events)
        if result.get("kept"):
            log.error("compensation kept %d account(s) that could not be discarded",
                      len(result["kept"]))
    except Exception:
        log.exception("compensation failed: %d account(s) to discard by hand", len(numbers))


def _create_accounts(users, institution_id, numbers, create, *args, **kwargs):
    """users.create_user(s); when the users service does not answer in time
    the accounts may or may not exist, so they are discarded before the 503
    goes back (discard only removes fresh, never-used accounts)."""
    try:
        return create(*args, **kwargs)
    except DomainError as exc:
        if exc.code == "service_unavailable":
            _compensate(users, institution_id, numbers, batch_events=len(numbers) > 1)
        raise


# --- creating one student ---------------------------------------------------------------

def _check_free(session, institution_id, number, bsn, student_id=None):
    """409 student_exists / bsn_exists when the number or BSN is taken."""
    if number is not None and session.execute(sa.select(Student.id).where(
            Student.institution_id == institution_id,
            Student.student_number == number)).first():
        raise conflict("student_exists", rules.student_exists_message(number),
                       field="student_number")
    if bsn:
        query = sa.select(Student.id).where(Student.institution_id == institution_id,
                                            Student.bsn == bsn)
        if student_id is not None:
            query = query.where(Student.id != student_id)
        if session.execute(query).first():
            raise conflict("bsn_exists", rules.bsn_exists_message(), field="bsn")


def _insert_student(uow, values):
    """The second step of create_student: the record itself (a seam for the
    test that makes it fail)."""
    student = Student(**values)
    uow.session.add(student)
    uow.session.flush()
    return student


def request_origin(request_id):
    """The origin key of the records and accounts one request creates (None
    without a request id)."""
    if request_id is None:
        return None
    if not (isinstance(request_id, str) and 0 < len(request_id) <= 64
            and request_id.isascii() and request_id.isprintable()):
        raise validation_error([error_item("value_invalid", "Ongeldige verzoek-id.",
                                           field="request_id")])
    return f"request:{request_id}"


def _created_by(session, iid, number, key):
    """The record of `number` when the operation `key` created it."""
    if key is None:
        return None
    return session.execute(sa.select(Student).where(
        Student.institution_id == iid, Student.student_number == number,
        Student.origin_key == key)).scalar_one_or_none()


def create_student(uow, users, institution_id, data, actor=None, request_id=None):
    """Account and record as one operation. With `request_id` (one per client
    request; the same on a retry or a redelivery) the operation is resumable:
    a repeat after success answers the record the first attempt created, and a
    repeat after a crash between the two steps adopts the account the first
    attempt left (users.create_user with the same origin key)."""
    iid = lookups.institution_id_of(institution_id)
    key = request_origin(request_id)
    record, personal, errors = rules.check_new_student(data, require_initials=True)
    if errors:
        raise validation_error(errors)
    number = record["student_number"]
    session = uow.session
    done = _created_by(session, iid, number, key)
    if done is not None:
        _release(uow)
        return lookups.student_view(done, _user_of(users, iid, number))
    _check_free(session, iid, number, record["bsn"])
    _release(uow)

    user = _create_accounts(users, iid, [number], users.create_user, iid, {
        "code": number, "type": "student", "roles": ["student"], **personal},
        origin=ORIGIN, origin_key=key)
    try:
        now = utcnow()
        student = _insert_student(uow, dict(record, institution_id=iid, user_id=user["id"],
                                            left_at=None, created_at=now, updated_at=now,
                                            origin_key=key))
        fields = _id_fields(record["bsn"], record["onderwijsnummer"])
        if fields:
            _audit(session, student, "create", fields, actor, now)
        uow.add_event("student_registered", iid, _registered_data(record, user["id"]))
        uow.commit()
    except Exception as exc:
        uow.rollback()
        done = _created_by(session, iid, number, key)
        if done is not None:  # a concurrent attempt of this request got there first
            _release(uow)
            return lookups.student_view(done, user)
        _compensate(users, iid, [number])
        if isinstance(exc, IntegrityError):
            raise _conflict_from(exc, number) from None
        raise
    return lookups.student_view(student, user)


# --- creating many students -------------------------------------------------------------

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
    for index, data in enumerate(rows, 1):
        record, personal, row_errors = rules.check_new_student(data, require_initials=False)
        row_parts = _row_participations(data, departments, record, row_errors)
        for item in row_errors:
            item["row"] = index
            errors.append(item)
        records.append(record)
        personals.append(personal)
        parts.append(row_parts)
    return records, personals, parts, errors


def _row_participations(data, departments, record, row_errors):
    """The clean participations of one row of create_students: `participation`
    (one) or `participations` (a list: one per department, with the forecast
    rules of rules.forecast_errors). Errors are appended to row_errors."""
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
        part, part_errors = rules.check_participation(raw, departments)
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
                students.c.institution_id == iid, students.c.student_number.in_(chunk))):
            errors.append(error_item("student_exists", rules.student_exists_message(number),
                                     field="student_number", row=first_number[number]))
    for chunk in lookups.chunks(first_bsn):
        for (bsn,) in session.execute(sa.select(students.c.bsn).where(
                students.c.institution_id == iid, students.c.bsn.in_(chunk))):
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
    """
    iid = lookups.institution_id_of(institution_id)
    key = _batch_origin(origin_key)
    _check_rows(rows)
    rows = list(rows)
    session = uow.session
    project, departments = None, None
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
        origin_key=key)["created"]
    user_ids = {u["code"]: u["id"] for u in created}
    try:
        _bulk_insert(uow, iid, project, departments, records, parts, user_ids, actor, key)
        uow.commit()
    except Exception as exc:
        uow.rollback()
        _compensate(users, iid, numbers, batch_events=True)
        if isinstance(exc, IntegrityError):
            raise _conflict_from(exc) from None
        raise
    return {"created": len(numbers), "student_numbers": numbers}


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


# --- reading students ----------------------------------------------------------------

def get_student(uow, users, institution_id, student_number, reveal_bsn=False, actor=None):
    """The student with personal data. `reveal_bsn` (admins only) shows BSN
    and onderwijsnummer unmasked and writes a `reveal` audit row."""
    session = uow.session
    student = lookups.load_student(session, institution_id, student_number)
    if reveal_bsn:
        if not rules.is_admin(actor):
            raise forbidden(rules.message("reveal_forbidden"))
        fields = _id_fields(student.bsn, student.onderwijsnummer)
        if fields:
            _audit(session, student, "reveal", fields, actor)
    _release(uow)
    return lookups.student_view(student, _user_of(users, student.institution_id,
                                                  student.student_number),
                                reveal=bool(reveal_bsn))


def list_students(uow, users, institution_id, q=None, home_class=None,
                  year_of_education=None, track=None, registered=None, type=None,
                  page=1, page_size=50, left=None):
    """Students of the institution, ordered by student number, masked.

    `q` matches name or e-mail (through users.find_codes), the student number
    (also as a substring, as the user's code) or, when it is a valid BSN, the
    exact BSN. `registered` keeps students who have (not) logged in. `left`
    false leaves out students who left school (a planned leave still shows);
    true keeps only them.
    """
    page, page_size = rules.page_args(page, page_size)
    home_class, year, track, student_type = rules.check_list_filters(
        home_class, year_of_education, track, type)
    registered = rules.check_registered(registered)
    left = rules.check_left(left)
    iid = lookups.to_id(institution_id)
    if iid is None:
        return lookups.page_result([], 0, page, page_size)
    try:
        q = rules.text(q) if not isinstance(q, bool) else None
    except rules.InvalidValue:
        q = None
    conditions = [students.c.institution_id == iid]
    if home_class is not None:
        conditions.append(sa.func.lower(students.c.home_class) == home_class.lower())
    if year is not None:
        conditions.append(students.c.year_of_education == year)
    if track is not None:
        conditions.append(sa.func.lower(students.c.track) == track.lower())
    if student_type is not None:
        conditions.append(students.c.type == student_type)
    if left is not None:
        conditions.append(students.c.left_at.is_not(None) if left
                          else students.c.left_at.is_(None))
    if q:
        matches = [students.c.student_number == q]
        codes = users.find_codes(iid, q=q, registered=None)
        if codes:
            matches.append(students.c.student_number.in_(codes))
        bsn = rules.bsn_or_none(q)
        if bsn is not None:
            matches.append(students.c.bsn == bsn)
        conditions.append(sa.or_(*matches))
    if registered is not None:
        signed_in = users.find_codes(iid, registered=True)
        clause = students.c.student_number.in_(signed_in)
        conditions.append(clause if registered else sa.not_(clause))
    session = uow.session
    query = sa.select(Student).where(*conditions)
    total = session.execute(
        sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    found = list(session.execute(
        query.order_by(sa.func.length(Student.student_number), Student.student_number)
        .limit(page_size).offset((page - 1) * page_size)).scalars())
    _release(uow)
    people = {}
    if found:
        people = {u["code"]: u for u in users.get_users(iid, [s.student_number for s in found])}
    items = [lookups.student_view(s, people.get(s.student_number)) for s in found]
    return lookups.page_result(items, total, page, page_size)


# --- changing a student -------------------------------------------------------------

def _current_record(student):
    values = {f: getattr(student, f) for f in rules.RECORD_FIELDS}
    values["student_number"] = student.student_number
    return values


def _event_value(field, value):
    if field in rules.IDENTIFIER_FIELDS:
        return "***" if value else None
    return iso(value) if isinstance(value, dt.date) else value


def update_student(uow, users, institution_id, student_number, changes, actor=None):
    """Change a student. Personal-data keys go to users.update_user; record
    keys are changed here; a BSN/onderwijsnummer change is audited. When the
    record cannot be saved after the personal data changed, the personal data
    is put back."""
    session = uow.session
    student = lookups.load_student(session, institution_id, student_number)
    iid, number = student.institution_id, student.student_number
    current = _current_record(student)
    updates, personal, errors = rules.check_student_changes(current, changes)
    if errors:
        raise validation_error(errors)
    if updates.get("bsn"):
        _check_free(session, iid, None, updates["bsn"], student_id=student.id)
    _release(uow)

    user = old_user = None
    if personal:
        if updates:
            old_user = _user_of(users, iid, number)
        user = users.update_user(iid, number, personal)
    if updates:
        try:
            student = lookups.load_student(session, iid, number, for_update=True)
            now = utcnow()
            event_changes = {}
            for field, value in updates.items():
                event_changes[field] = [_event_value(field, getattr(student, field)),
                                        _event_value(field, value)]
                setattr(student, field, value)
            student.updated_at = now
            fields = _id_fields(*(f in updates for f in rules.IDENTIFIER_FIELDS))
            if fields:
                _audit(session, student, "change", fields, actor, now)
            uow.add_event("student_updated", iid, {"student_number": number,
                                                   "changes": event_changes})
            uow.commit()
        except Exception as exc:
            uow.rollback()
            if old_user is not None:
                try:
                    users.update_user(iid, number, {k: old_user.get(k) for k in personal})
                except Exception:
                    log.exception("could not restore the personal data of student %s", number)
            if isinstance(exc, IntegrityError):
                raise _conflict_from(exc, number) from None
            raise
    if user is None:
        user = _user_of(users, iid, number)
    return lookups.student_view(student, user)


# --- a student leaving school -----------------------------------------------------------

def _leave(uow, student, day, source, event_id=None, archive=False):
    """Carry out a student's leaving as of `day`: remove the participations in
    the projects of that day's school year and later ones (this and next
    year's, and any further), mark the record as left with `day` as its leave
    date (student_left, once), and record `event_id` as processed, in one
    transaction. `archive`: the account is still to be archived
    (archive_pending, cleared by _archive_account). Returns the removed
    participation ids."""
    session = uow.session
    first_year = rules.school_year_of(day)
    project_ids = list(session.execute(sa.select(Project.id).where(
        Project.institution_id == student.institution_id,
        Project.school_year >= first_year)).scalars())
    removed = []
    for part, dept_code, project in placements.participations_in(session, student.id,
                                                                  project_ids):
        placements.remove_participation(uow, part, student.student_number, dept_code, project,
                                        reason="left")
        removed.append(part.id)
    if student.left_at is None:
        now = utcnow()
        student.left_at = now
        student.leave_date = day
        student.updated_at = now
        uow.add_event("student_left", student.institution_id, {
            "student_number": student.student_number, "user_id": student.user_id,
            "date": day.isoformat(), "school_years": [first_year,
                                                      rules.next_school_year(first_year)],
            "removed_participations": removed, "source": source})
    student.archive_pending = bool(archive)
    if event_id is not None:
        events.mark_processed(session, processed_events, event_id)
    uow.commit()
    return removed


def _leave_result(student, removed, archived):
    return {"student_number": student.student_number, "removed_participations": removed,
            "archived": archived, "leave_date": iso(student.leave_date),
            "status": rules.leave_status(student.leave_date, student.left_at)}


def _archive_account(uow, users, student):
    """Archive the account of a student who left; True when done. When the
    users service does not answer, archive_pending stays set and the next
    run of carry_out_planned_leaves tries again."""
    try:
        users.archive_user(student.institution_id, student.student_number)
    except DomainError as exc:
        if exc.status < 500:
            raise
        log.warning("archiving the account of a student who left waits: %s", exc.code)
        return False
    uow.session.execute(sa.update(students).where(students.c.id == student.id)
                        .values(archive_pending=False))
    uow.commit()
    student.archive_pending = False
    return True


def leave_student(uow, users, institution_id, student_number, date=None, actor=None,
                  as_of=None):
    """The student leaves school on `date` (default today).

    A date in the future is stored as planned: the student shows as leaving
    and nothing else changes until that day, when carry_out_planned_leaves
    does what follows. Today or a past date is carried out now: the
    participations of that date's school year and later are removed and the
    account is archived (`archived` false: the users service did not answer;
    it is archived later). Asking again for a planned leave moves its date;
    for a student who left already it changes nothing (nor does the
    user_archived event that follows)."""
    today_ = as_of or today()
    student = lookups.load_student(uow.session, institution_id, student_number,
                                   for_update=True)
    errors = []
    day = rules.clean_leave_date(date, errors, today_)
    if errors:
        raise validation_error(errors)
    day = day or today_
    if student.left_at is not None:
        _release(uow)
        return _leave_result(student, [], _archive_account(uow, users, student))
    if day > today_:
        if student.leave_date != day:
            student.leave_date = day
            student.updated_at = utcnow()
            uow.add_event("student_leave_planned", student.institution_id, {
                "student_number": student.student_number, "user_id": student.user_id,
                "date": day.isoformat()})
            uow.commit()
        return _leave_result(student, [], False)
    removed = _leave(uow, student, day, source="leave", archive=True)
    return _leave_result(student, removed, _archive_account(uow, users, student))


def cancel_leave(uow, users, institution_id, student_number, actor=None):
    """Withdraw a planned leave. A student who left already is brought back by
    restoring the user (409 here)."""
    student = lookups.load_student(uow.session, institution_id, student_number,
                                   for_update=True)
    if student.left_at is not None:
        raise conflict("student_already_left", rules.message("student_already_left"))
    if student.leave_date is not None:
        student.leave_date = None
        student.updated_at = utcnow()
        uow.add_event("student_leave_cancelled", student.institution_id, {
            "student_number": student.student_number, "user_id": student.user_id})
        uow.commit()
    else:
        _release(uow)
    return lookups.student_view(student, _user_of(users, student.institution_id,
                                                  student.student_number))


def carry_out_planned_leaves(uow, users, as_of=None, limit=500):
    """Carry out every planned leave whose day has come, and archive the
    accounts still pending (run by a timer, and by operators through the RPC).
    Each student in a transaction of its own, the leaving (with its planned
    date) before the account is archived, so the user_archived event that
    follows finds it done. Returns the student numbers whose leave was
    carried out."""
    day = as_of or today()
    session = uow.session
    due = list(session.execute(
        sa.select(Student.id).where(Student.leave_date <= day, Student.left_at.is_(None))
        .order_by(Student.leave_date, Student.id).limit(limit)).scalars())
    pending = list(session.execute(
        sa.select(Student.id).where(Student.archive_pending.is_(True))
        .order_by(Student.id).limit(limit)).scalars())
    _release(uow)
    done = []
    for student_id in due:
        student = session.execute(sa.select(Student).where(Student.id == student_id)
                                  .with_for_update()).scalar_one_or_none()
        if student is None or student.left_at is not None or student.leave_date is None \
                or student.leave_date > day:
            _release(uow)
            continue
        _leave(uow, student, student.leave_date, source="planned", archive=True)
        _archive_account(uow, users, student)
        done.append(student.student_number)
    for student_id in pending:
        student = session.get(Student, student_id)
        if student is not None and student.archive_pending:
            _release(uow)
            _archive_account(uow, users, student)
    return done


# --- events from the users service ---------------------------------------------------

def _event_parts(payload, expected_type):
    """(event_id, institution_id, data, occurred_at) of a well-formed envelope;
    PermanentEventError (the consumer parks it) otherwise."""
    env = events.parse_envelope(payload, expected_type)
    return env.event_id, env.institution_id, env.data, env.occurred_at


def _already_processed(session, event_id):
    return events.already_processed(session, processed_events, event_id)


def _mark_processed(uow, event_id):
    events.mark_processed(uow.session, processed_events, event_id)
    uow.commit()


def _student_for_event(session, iid, data):
    if data.get("type") != "student":
        return None
    number = lookups.student_number_arg(data.get("code"))
    if number is None:
        return None
    return session.execute(sa.select(Student).where(
        Student.institution_id == iid, Student.student_number == number)
        .with_for_update()).scalar_one_or_none()


def on_user_archived(uow, payload):
    """A user was archived: for a student, do what leave_student does except
    archiving (the removal of this and next school year's participations, as
    of the day of the event). Idempotent by event_id. Returns what happened:
    "applied", "duplicate", "ignored" (not a student / malformed)."""
    event_id, iid, data, occurred = _event_parts(payload, "user_archived")
    session = uow.session
    try:
        if _already_processed(session, event_id):
            return "duplicate"
        student = _student_for_event(session, iid, data)
        if student is None:
            _mark_processed(uow, event_id)
            return "ignored"
        day = occurred.astimezone(LOCAL_TZ).date() if occurred and occurred.tzinfo \
            else today()
        if student.leave_date is not None and student.leave_date <= day:
            day = student.leave_date  # a planned leave being carried out
        student.archive_pending = False   # it is archived: that is what happened
        _leave(uow, student, day, source="user_archived", event_id=event_id)
        return "applied"
    except IntegrityError:  # another worker processed the same event just now
        uow.rollback()
        return "duplicate"


def on_user_unarchived(uow, payload):
    """A user came back from the archive: a student is no longer `left`
    (so leaving again later is reported again). Idempotent by event_id."""
    event_id, iid, data, _occurred = _event_parts(payload, "user_unarchived")
    session = uow.session
    try:
        if _already_processed(session, event_id):
            return "duplicate"
        student = _student_for_event(session, iid, data)
        if student is not None and (student.left_at is not None
                                    or student.leave_date is not None):
            student.left_at = None
            student.leave_date = None
            student.updated_at = utcnow()
        _mark_processed(uow, event_id)
        return "applied" if student is not None else "ignored"
    except IntegrityError:
        uow.rollback()
        return "duplicate"


# --- the BSN audit trail --------------------------------------------------------------

def bsn_audit_trail(uow, institution_id, student_number=None, page=1, page_size=50):
    """Who created, changed or revealed BSNs/onderwijsnummers, newest first."""
    page, page_size = rules.page_args(page, page_size)
    iid = lookups.to_id(institution_id)
    query = sa.select(BsnAudit).where(BsnAudit.institution_id == (iid if iid is not None
                                                                  else -1))
    if student_number is not None:
        number = lookups.student_number_arg(student_number)
        query = query.where(BsnAudit.student_number == (number or ""))
    session = uow.session
    total = session.execute(
        sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(BsnAudit.at.desc(), BsnAudit.id.desc())
                           .limit(page_size).offset((page - 1) * page_size)).scalars()
    items = [{"id": a.id, "student_number": a.student_number, "action": a.action,
              "fields": a.fields.split(",") if a.fields else [],
              "actor_user_id": a.actor_user_id, "actor_code": a.actor_code,
              "at": iso(a.at)} for a in rows]
    return lookups.page_result(items, total, page, page_size)



# --- lookup for the uploads service (added by the uploads work; kept tiny) ------------

def bsn_by_student_numbers(uow, institution_id, student_numbers):
    """{student number: BSN or None} for those of `student_numbers` that exist
    in the institution. The uploads service compares them with a list's BSNs
    (a number that exists with another BSN) and skips existing students when
    loading; it never shows them."""
    iid = lookups.to_id(institution_id)
    if iid is None or not isinstance(student_numbers, (list, tuple)):
        return {}
    wanted = list(dict.fromkeys(n for n in student_numbers if isinstance(n, str) and n))
    found = {}
    for chunk in lookups.chunks(wanted):
        for number, bsn in uow.session.execute(
                sa.select(Student.student_number, Student.bsn)
                .where(Student.institution_id == iid, Student.student_number.in_(chunk))):
            found[number] = bsn
    return found
