"""The preview: what a commit would change, row by row, for users and for
participations."""
import logging
import time

from services.common import fields as fieldrules
from services.common.errors import DomainError, conflict, error_item
from services.common.outbox import utcnow

from ..models import Import
from .mapping import check_mapping
from .records import (ARCHIVE_GUARD, LABELS, RPC_CHUNK, USER_TYPES_NL, Timed, _committing, _load,
                      _table, gc_paused, store_preview)

log = logging.getLogger(__name__)


def _row_error(row, header, field, code, message):
    return {"row": row, "column": header, "field": field, "code": code, "message": message}


def _cleaners(fields, headers):
    """{field: value -> (clean, None) or (None, (code, message))}: the one table
    of field rules (services/common/fields.py), the messages naming the file's
    column."""
    return {field: fieldrules.remembering_cleaner(field, headers[index] or LABELS[field])
            for field, index in fields.items()}


def _values(number, values, fields, headers, cleaners=None):
    """(clean values of the mapped fields, errors) of one row (`cleaners`:
    _cleaners', kept over the rows of a file)."""
    cleaners = cleaners or _cleaners(fields, headers)
    clean, errors = {}, []
    width = len(values)
    for field, index in fields.items():
        clean[field], bad = cleaners[field](values[index] if index < width else "")
        if bad is not None:
            errors.append(_row_error(number, headers[index], field, *bad))
    return clean, errors


def _user_values(number, values, fields, headers, as_students, cleaners=None):
    """(clean values of the mapped fields, errors) of one users row."""
    clean, errors = _values(number, values, fields, headers, cleaners)
    code = clean.get("code")
    header = headers[fields["code"]]
    if code is None and not any(e["field"] == "code" for e in errors):
        errors.append(_row_error(number, header, "code", "required",
                                 fieldrules.required_message(header)))
    elif code is not None and as_students and not (code.isascii() and code.isdigit()):
        errors.append(_row_error(number, header, "code", "student_number_not_digits",
                                 fieldrules.message("student_number_not_digits", header)
                                 [:-1] + ": de code van een leerling is zijn leerlingnummer."))
    return clean, errors


def _users_by_code(users, institution_id, codes, fields=()):
    """{code: user} of the existing ones: code, type, archived, updated_at and
    the personal `fields` asked for (the users service's light answer)."""
    found = {}
    codes = list(codes)
    for start in range(0, len(codes), RPC_CHUNK):
        for user in users.get_users(institution_id, codes[start:start + RPC_CHUNK],
                                    fields=list(fields)):
            found[user["code"]] = user
    return found


def _active_students(users, institution_id):
    codes, page = {}, 1
    while True:
        result = users.list_users(institution_id, filter="students", page=page, page_size=500)
        for user in result["items"]:
            codes[user["code"]] = user["updated_at"]
        if page * 500 >= result["total"] or not result["items"]:
            return codes
        page += 1


def _preview_users(imp, table, fields, options, users):
    iid, mode = imp.institution_id, options["mode"]
    headers = table.headers
    parsed, seen = [], {}
    cleaners = _cleaners(fields, headers)
    for number, values in table.rows:
        clean, errors = _user_values(number, values, fields, headers, options["as_students"],
                                     cleaners)
        code = clean.get("code")
        if code is not None and not errors:
            if code in seen:
                errors.append(_row_error(number, headers[fields["code"]], "code",
                                         "duplicate_row", f"Code {code} staat ook in regel "
                                         f"{seen[code]}."))
            else:
                seen[code] = number
        parsed.append((number, clean, errors))
    existing = _users_by_code(users, iid, seen, [f for f in fields if f != "code"])
    rows, plan = [], {"create": [], "update": [], "archive": [], "students": []}
    fingerprints = {}
    for number, clean, errors in parsed:
        code = clean.get("code")
        entry = {"row": number, "code": code, "action": "error", "changes": {}, "errors": errors,
                 "note": None}
        current = existing.get(code) if not errors else None
        if current is not None and options["as_students"] and current.get("type") != "student":
            kind = USER_TYPES_NL.get(current.get("type"), "andere gebruiker")
            entry["errors"] = [_row_error(
                number, headers[fields["code"]], "code", "user_not_student",
                f"Gebruiker {code} bestaat al als {kind} en wordt niet als leerling "
                "toegevoegd. Wijzig zo nodig de soort gebruiker bij Beheer > Gebruikers.")]
        elif not errors:
            if current is not None:
                fingerprints[code] = current["updated_at"]
                if mode == "import":
                    entry.update(action="unchanged", note="Bestaat al; importeren maakt alleen "
                                                          "nieuwe gebruikers aan.")
                else:
                    changes = {f: [current.get(f), v] for f, v in clean.items()
                               if f != "code" and v is not None and v != current.get(f)}
                    entry.update(action="update" if changes else "unchanged", changes=changes)
                    if changes:
                        plan["update"].append({"code": code,
                                               **{f: new for f, (_o, new) in changes.items()}})
            elif mode == "update":
                entry.update(action="unchanged", note="Niet gevonden; bijwerken maakt geen "
                                                      "nieuwe gebruikers aan.")
            else:
                missing = [f for f in ("first_name", "last_name") if clean.get(f) is None]
                if missing:
                    entry["errors"] = [_row_error(number, headers[fields[f]] if f in fields
                                                  else None, f, "required",
                                                  f"{LABELS[f]} is verplicht voor een nieuwe "
                                                  "gebruiker.") for f in missing]
                else:
                    fingerprints[code] = None
                    values = {f: v for f, v in clean.items() if v is not None}
                    if options["as_students"]:
                        values["is_student"] = True
                    entry.update(action="create", changes={f: [None, v] for f, v in
                                                           values.items()
                                                           if f not in ("code", "is_student")})
                    plan["create"].append(values)
        if options["as_students"] and not entry["errors"] \
                and (current is not None or entry["action"] == "create"):
            plan["students"].append(code)
        rows.append(entry)
    if options["archive_missing"]:
        students = _active_students(users, iid)
        missing = sorted(set(students) - set(seen))
        if students and len(missing) > ARCHIVE_GUARD * len(students) and not options["force"]:
            share = 100 * len(missing) // len(students)  # 1195 of 1200: 99%, not 100%
            raise DomainError(
                "archive_guard",
                f"Synchroniseren zou {len(missing)} van de {len(students)} leerlingen "
                f"({share}%) archiveren; dat is meer dan 10%. Controleer het bestand; is dit "
                "echt de bedoeling, bevestig het dan (force).", status=409,
                errors=[error_item("archive_guard", "Meer dan 10% van de leerlingen zou worden "
                                   "gearchiveerd.", field="archive_missing")],
                extra={"archive": len(missing), "students": len(students)})
        for code in missing:
            fingerprints[code] = students[code]
            rows.append({"row": None, "code": code, "action": "archive", "changes": {},
                         "errors": [], "note": "Staat niet in het bestand."})
            plan["archive"].append(code)
    return rows, plan, fingerprints


def _part_values(number, values, fields, headers, cleaners=None):
    clean, errors = _values(number, values, fields, headers, cleaners)
    for field in ("student_number", "department"):
        if clean.get(field) is None and not any(e["field"] == field for e in errors):
            header = headers[fields[field]]
            errors.append(_row_error(number, header, field, "required",
                                     fieldrules.required_message(header)))
    return clean, errors


def _existing_participations(students, iid, project_id):
    numbers, page = set(), 1
    while True:
        result = students.list_participations(iid, project_id, page=page, page_size=500)
        items = result["items"] if isinstance(result, dict) else list(result)
        numbers.update(p["student_number"] for p in items)
        total = result.get("total", len(items)) if isinstance(result, dict) else len(items)
        if page * 500 >= total or not items:
            return numbers
        page += 1


def _preview_participations(imp, table, fields, options, students):
    """Rows of a participations import. A student may have several rows, one
    per department (the same student and department twice: `duplicate_row`).
    A student who already has a participation in the project is left alone:
    every row of theirs is `unchanged` (the manual: "Als een leerling al een
    deelname heeft, dan wordt deze niet bijgewerkt"). For the others the
    students service checks the forecasts over each student's rows
    (students.check_new_participations: several departments need a forecast
    each, together at most 100), errors per row; a student's rows are applied
    all or none, so when one row has an error the others get
    `other_row_invalid`."""
    iid, project_id = imp.institution_id, options["project_id"]
    departments = students.list_departments(iid, project_id)
    dept_items = departments["items"] if isinstance(departments, dict) else departments
    known = {d["code"] for d in dept_items}
    parsed, seen = [], {}
    cleaners = _cleaners(fields, table.headers)
    for number, values in table.rows:
        clean, errors = _part_values(number, values, fields, table.headers, cleaners)
        if clean.get("department") and clean["department"] not in known:
            errors.append(_row_error(number, table.headers[fields["department"]], "department",
                                     "department_unknown", f"Afdeling {clean['department']} "
                                     "bestaat niet in dit roosterproject."))
        code = clean.get("student_number")
        if code and not errors:
            key = (code, clean["department"])
            if key in seen:
                errors.append(_row_error(number, table.headers[fields["department"]],
                                         "department", "duplicate_row",
                                         f"Leerling {code} staat met afdeling "
                                         f"{clean['department']} ook in regel {seen[key]}."))
            else:
                seen[key] = number
        parsed.append((number, clean, errors))
    codes = list(dict.fromkeys(code for code, _dept in seen))
    known_students = {}
    for start in range(0, len(codes), RPC_CHUNK):
        known_students.update(students.bsn_by_student_numbers(iid, codes[start:start + RPC_CHUNK]))
    placed = _existing_participations(students, iid, project_id)
    student_header = table.headers[fields["student_number"]]
    for number, clean, errors in parsed:
        code = clean.get("student_number")
        if not errors and code not in known_students:
            errors.append(_row_error(number, student_header, "student_number",
                                     "student_unknown",
                                     f"Er is geen leerling met leerlingcode {code}."))
    # the forecast rules over each new student's rows, by the students service
    candidates = [{"row": number, "student_number": clean["student_number"],
                   "department": clean["department"], "forecast": clean.get("forecast"),
                   "home_class": clean.get("home_class")}
                  for number, clean, errors in parsed
                  if not errors and clean["student_number"] not in placed]
    if candidates:
        forecast_header = table.headers[fields["forecast"]] if "forecast" in fields \
            else student_header
        found = students.check_new_participations(iid, project_id, candidates)
        by_row = {}
        for item in found.get("errors") or []:
            by_row.setdefault(item.get("row"), []).append(item)
        for number, clean, errors in parsed:
            for item in by_row.get(number, []):
                field = item.get("field") or "forecast"
                header = table.headers[fields[field]] if field in fields else forecast_header
                errors.append(_row_error(number, header, field, item["code"], item["message"]))
    failing = {}
    for number, clean, errors in parsed:
        code = clean.get("student_number")
        if errors and code and code not in placed:
            failing.setdefault(code, number)
    rows, plan = [], {"participations": []}
    for number, clean, errors in parsed:
        code = clean.get("student_number")
        entry = {"row": number, "code": code, "action": "error", "changes": {},
                 "errors": errors, "note": None}
        if not errors:
            if code in placed:
                entry.update(action="unchanged", note="Heeft al een afdelingsdeelname in dit "
                                                      "roosterproject; niet gewijzigd.")
            elif code in failing:
                entry["errors"] = [_row_error(
                    number, student_header, "student_number", "other_row_invalid",
                    f"Regel {failing[code]} van leerling {code} bevat een fout; de regels van "
                    f"een leerling worden samen verwerkt of niet.")]
            else:
                values = {f: v for f, v in clean.items() if v is not None}
                entry.update(action="create", changes={f: [None, v] for f, v in values.items()
                                                       if f != "student_number"})
                plan["participations"].append(values)
        rows.append(entry)
    return rows, plan, {}


def _student_chunks(todo, size=RPC_CHUNK):
    """The planned participations in chunks of about `size` rows that never
    split one student's rows (the students service applies them together)."""
    by_student = {}
    for values in todo:
        by_student.setdefault(values.get("student_number"), []).append(values)
    chunk = []
    for own in by_student.values():
        if chunk and len(chunk) + len(own) > size:
            yield chunk
            chunk = []
        chunk.extend(own)
    if chunk:
        yield chunk


def _counts(rows):
    counts = {"create": 0, "update": 0, "unchanged": 0, "archive": 0, "error": 0}
    for row in rows:
        counts[row["action"]] += 1
    return counts


def _not_again(imp):
    if imp.status == "committing":
        raise _committing()
    if imp.status in ("committed", "undone"):
        raise conflict("import_committed", "Deze import is al verwerkt; begin een nieuwe "
                                           "import.")


def preview(db, settings, users, students, import_id, institution_id, mapping,
            preview_rows=None):
    """Label the columns and pick the mode: the preview, stored for commit.
    `preview_rows` limits how many rows the answer carries (all are stored)."""
    with gc_paused():
        return _preview(db, settings, users, students, import_id, institution_id, mapping,
                        preview_rows)


def _preview(db, settings, users, students, import_id, institution_id, mapping, preview_rows):
    started = time.perf_counter()
    users = Timed(users)
    with db() as uow:
        imp = _load(uow.session, import_id, institution_id, light=True)
        _not_again(imp)
        fields, options = check_mapping(imp, mapping)
        table = _table(settings, imp)
        snapshot = Import(id=imp.id, institution_id=imp.institution_id, kind=imp.kind)
    if snapshot.kind == "users":
        rows, plan, fingerprints = _preview_users(snapshot, table, fields, options, users)
    else:
        rows, plan, fingerprints = _preview_participations(snapshot, table, fields, options,
                                                           students)
    counts = _counts(rows)
    with db() as uow:
        imp = _load(uow.session, import_id, institution_id, light=True)
        _not_again(imp)
        imp.mapping = {str(i): f for f, i in fields.items()}
        imp.options = options
        store_preview(uow.session, imp.id, rows, counts, plan, fingerprints)
        imp.status = "previewed"
        imp.previewed_at = utcnow()
        imp.problem = None
        uow.commit()
    log.info("import %s previewed: %d row(s) in %.2fs, of which %.2fs in the users service's "
             "calls", import_id, len(rows), time.perf_counter() - started, users.seconds)
    return {"rows": rows if preview_rows is None else rows[:max(0, preview_rows)],
            "counts": counts, "total": len(rows)}
