"""CSV imports from the student administration (the Zermelo flow).

POST /imports stores the file and answers its columns with a suggested field
each; PUT /imports/{id}/mapping labels the columns, picks the mode and
answers the preview, which is stored; POST /imports/{id}/commit applies
exactly that preview (409 when a record it looked at has changed since: the
`updated_at` of every user it read is kept as a fingerprint); a second commit
changes nothing; POST /imports/{id}/undo restores what the commit changed
where nothing has touched those records since.

Users go through the users service's batch RPCs (create_users, update_users,
archive_user, discard_users); participations through the students service.
"""
import datetime as dt
import hashlib
import logging

import eventlet
import sqlalchemy as sa
from sqlalchemy import orm

from services.common import fields as fieldrules
from services.common.errors import DomainError, conflict, error_item, not_found, validation_error
from services.common.fields import FieldError
from services.common.outbox import utcnow
from services.common.paging import page_args

from . import csvfile, storage
from .handlers import clean_filename, iso, to_id
from .models import Import, imports

log = logging.getLogger(__name__)

ORIGINAL = "original.csv"
KINDS = ("users", "participations")
STATUSES = ("uploaded", "previewed", "committing", "committed", "failed", "undone")
MODES = ("import", "update", "sync")
ARCHIVE_GUARD = 0.10
RPC_CHUNK = 2000
# a commit in the background applies its changes in smaller chunks, so its
# progress moves visibly (POST /imports/{id}/commit?async=true)
PROGRESS_CHUNK = 500
ROW_ACTIONS = ("create", "update", "unchanged", "archive", "error")
SAMPLE_ROWS = 5
LABELS = {
    "code": "Code", "initials": "Voorletters", "first_name": "Voornaam",
    "prefix": "Tussenvoegsel", "last_name": "Achternaam", "gender": "Geslacht",
    "email": "E-mailadres", "street": "Straat", "house_number": "Huisnummer",
    "postcode": "Postcode", "city": "Woonplaats", "student_number": "Leerlingcode",
    "department": "Afdeling", "forecast": "Prognose", "profile": "Profiel",
    "programme": "Opleiding", "home_class": "Stamklas", "learning_path": "Leerpad",
    "lwoo": "LWOO",
}
USER_TYPES_NL = {"employee": "medewerker", "guardian": "ouder/verzorger"}


# --- records ----------------------------------------------------------------------

def _import_not_found():
    return not_found("import", "Import niet gevonden.")


def _load(session, import_id, institution_id, light=False):
    """The import (404 for another institution's). `light`: without the stored
    preview and undo data (megabytes for a large file), loaded only when used."""
    if to_id(import_id) is None:
        raise _import_not_found()
    if light:
        imp = session.execute(sa.select(Import).where(Import.id == to_id(import_id))
                              .options(orm.defer(Import.preview), orm.defer(Import.undo))
                              ).scalar_one_or_none()
    else:
        imp = session.get(Import, to_id(import_id))
    if imp is None or imp.institution_id != to_id(institution_id):
        raise _import_not_found()
    return imp


def _table(settings, imp, head=None):
    content = (storage.import_dir(settings.data_dir, imp.id) / ORIGINAL).read_bytes()
    return csvfile.parse(content, imp.delimiter, imp.encoding, settings.limits.max_rows,
                         head=head)


def import_dict(imp, sample=None, preview_rows=None, counts=None):
    """The import as the API answers it. `preview_rows`: how many of the
    preview's rows to include (None: all; the counts are always there, the
    rows page through GET /imports/{id}/rows)."""
    preview = imp.preview or None if preview_rows != 0 or counts is None else {"counts": counts}
    rows = None
    if preview:
        rows = [] if preview_rows == 0 else \
            preview["rows"] if preview_rows is None else preview["rows"][:max(0, preview_rows)]
    return {
        "id": imp.id, "institution_id": imp.institution_id, "kind": imp.kind,
        "status": imp.status, "filename": imp.filename,
        "delimiter": csvfile.DELIMITER_NAMES.get(imp.delimiter, imp.delimiter),
        "encoding": imp.encoding, "columns": list(imp.columns or []),
        "row_count": imp.row_count, "fields_available": list(csvfile.FIELDS[imp.kind]),
        "sample": sample if sample is not None else [],
        "mapping": imp.mapping, "options": imp.options,
        "preview": {"rows": rows, "counts": preview["counts"]} if preview else None,
        "result": imp.result, "created_by": imp.created_by,
        "created_at": iso(imp.created_at), "previewed_at": iso(imp.previewed_at),
        "committed_at": iso(imp.committed_at), "undone_at": iso(imp.undone_at),
        "progress": {"done": imp.progress_done or 0, "total": imp.progress_total or 0},
        "problem": imp.problem,
    }


def create_import(uow, settings, institution_id, kind, filename, content, delimiter=None,
                  encoding=None, actor_code=None):
    if kind not in csvfile.FIELDS:
        raise validation_error([error_item("kind_invalid", "Kies users of participations.",
                                           field="kind")])
    table = csvfile.parse(content, delimiter, encoding, settings.limits.max_rows)
    suggestions = csvfile.suggest_all(kind, table.headers)
    columns = [{"index": i, "header": h, "suggested_field": s}
               for i, (h, s) in enumerate(zip(table.headers, suggestions))]
    imp = Import(institution_id=int(institution_id), kind=kind,
                 filename=clean_filename(filename), size=len(content),
                 sha256=hashlib.sha256(content).hexdigest(), delimiter=table.delimiter,
                 encoding=table.encoding, columns=columns, row_count=len(table.rows),
                 status="uploaded", created_by=actor_code, created_at=utcnow())
    uow.session.add(imp)
    uow.session.flush()
    storage.write_atomic(storage.import_dir(settings.data_dir, imp.id) / ORIGINAL, content)
    uow.add_event("import_created", imp.institution_id, {"import_id": imp.id, "kind": kind,
                                                         "rows": imp.row_count})
    uow.commit()
    return import_dict(imp, [values for _n, values in table.rows[:SAMPLE_ROWS]])


def get_import(uow, import_id, institution_id, preview_rows=None, sample_rows=0,
               settings=None):
    """The import; `sample_rows` > 0 reads that many first rows of the stored
    file again (the sample the labelling shows; none once the file is purged)."""
    light = preview_rows == 0
    imp = _load(uow.session, import_id, institution_id, light=light)
    counts = None
    if light:  # the counts only, read out of the stored preview by the database
        counts = uow.session.execute(sa.select(imports.c.preview["counts"]).where(
            imports.c.id == imp.id)).scalar()
    sample = None
    if sample_rows and settings is not None and imp.purged_at is None:
        try:
            sample = [values for _n, values in _table(settings, imp,
                                                      head=min(sample_rows, 20)).rows]
        except (OSError, DomainError):
            sample = []
    return import_dict(imp, sample, preview_rows=preview_rows, counts=counts)


def import_rows(uow, import_id, institution_id, page=1, page_size=50, action=None):
    """The stored preview's rows, paged, optionally of one action: what a page
    shows of a large import without carrying every row."""
    page, page_size = page_args(page, page_size)
    action = _choice(action, ROW_ACTIONS, "action", "actie")
    imp = _load(uow.session, import_id, institution_id, light=True)
    # the rows and counts only, read out of the stored preview by the database
    # (not the plan and fingerprints beside them)
    stored = uow.session.execute(sa.select(imports.c.preview["rows"], imports.c.preview["counts"])
                                 .where(imports.c.id == imp.id)).first()
    if stored is None or stored[1] is None:
        raise conflict("preview_required", "Deze import heeft nog geen voorvertoning: label "
                                           "eerst de kolommen (PUT /imports/{id}/mapping).")
    rows, counts = stored[0] or [], stored[1]
    if action:
        rows = [row for row in rows if row["action"] == action]
    start = (page - 1) * page_size
    return {"items": rows[start:start + page_size], "total": len(rows), "page": page,
            "page_size": page_size, "counts": counts, "action": action}


# --- history ---------------------------------------------------------------------------

# the preview's counts under the names of the commit's counts
_PREVIEW_COUNTS = {"create": "created", "update": "updated", "unchanged": "unchanged",
                   "archive": "archived", "error": "failed"}


def history_counts(result, preview_counts):
    """(counts, source): the commit's counts when there are any, else the
    preview's renamed to the commit's names (create -> created, error ->
    failed, ...), else (None, None)."""
    counts = (result or {}).get("counts")
    if counts:
        return dict(counts), "result"
    if preview_counts:
        return {_PREVIEW_COUNTS.get(k, k): v for k, v in preview_counts.items()}, "preview"
    return None, None


def _choice(value, choices, field, label):
    if value is None or value == "":
        return None
    if value not in choices:
        raise validation_error([error_item(f"{field}_invalid", f"Onbekende {label}; kies uit "
                                           + ", ".join(choices) + ".", field=field)])
    return value


def list_imports(uow, institution_id, kind=None, status=None, page=1, page_size=50):
    """The institution's CSV imports, newest first: who, when, kind, mode,
    counts, status and file name. The stored preview (every row) is not read:
    only its counts."""
    page, page_size = page_args(page, page_size)
    kind = _choice(kind, KINDS, "kind", "soort import")
    status = _choice(status, STATUSES, "status", "status")
    where = [imports.c.institution_id == (to_id(institution_id) or -1)]
    if kind:
        where.append(imports.c.kind == kind)
    if status:
        where.append(imports.c.status == status)
    session = uow.session
    total = session.execute(sa.select(sa.func.count()).select_from(imports)
                            .where(*where)).scalar_one()
    rows = session.execute(
        sa.select(imports.c.id, imports.c.kind, imports.c.status, imports.c.filename,
                  imports.c.row_count, imports.c.options, imports.c.result,
                  imports.c.preview["counts"].label("preview_counts"), imports.c.created_by,
                  imports.c.created_at, imports.c.previewed_at, imports.c.committed_at,
                  imports.c.undone_at)
        .where(*where).order_by(imports.c.created_at.desc(), imports.c.id.desc())
        .limit(page_size).offset((page - 1) * page_size)).all()
    items = []
    for row in rows:
        counts, source = history_counts(row.result, row.preview_counts)
        items.append({
            "id": row.id, "kind": row.kind, "status": row.status, "filename": row.filename,
            "row_count": row.row_count, "mode": (row.options or {}).get("mode"),
            "as_students": (row.options or {}).get("as_students"),
            "counts": counts, "counts_from": source,
            "undo_counts": ((row.result or {}).get("undo") or {}).get("counts"),
            "created_by": row.created_by, "created_at": iso(row.created_at),
            "previewed_at": iso(row.previewed_at), "committed_at": iso(row.committed_at),
            "undone_at": iso(row.undone_at)})
    return {"items": items, "total": total, "page": page, "page_size": page_size}


# --- the mapping --------------------------------------------------------------------

def check_mapping(imp, mapping):
    """{field: column index} and the options, or 422."""
    if not isinstance(mapping, dict) or not isinstance(mapping.get("columns"), dict):
        raise validation_error([error_item("required", "Geef per kolom een veld (columns).",
                                           field="columns")])
    allowed = csvfile.FIELDS[imp.kind]
    errors, fields = [], {}
    for key, field in mapping["columns"].items():
        index = to_id(key)
        if index is None or not 0 <= index < len(imp.columns or []):
            errors.append(error_item("column_unknown", f"Kolom {key} bestaat niet in het "
                                     "bestand.", field=f"columns.{key}"))
            continue
        if field in (None, ""):
            continue
        if field not in allowed:
            errors.append(error_item("field_unknown", f"Onbekend veld: {field}. Kies uit "
                                     + ", ".join(allowed) + ".", field=f"columns.{key}"))
        elif field in fields:
            errors.append(error_item("field_mapped_twice", f"Het veld {field} is aan meer dan "
                                     "één kolom gekoppeld.", field=f"columns.{key}"))
        else:
            fields[field] = index
    key_field = "code" if imp.kind == "users" else "student_number"
    if key_field not in fields and not errors:
        errors.append(error_item("key_column_required", f"Koppel een kolom aan het veld "
                                 f"{key_field}: daarmee worden de regels herkend.",
                                 field="columns"))
    mode = mapping.get("mode", "import")
    if mode not in MODES:
        errors.append(error_item("mode_invalid", "Kies import, update of sync.", field="mode"))
    options = {"mode": mode, "as_students": bool(mapping.get("as_students")),
               "archive_missing": bool(mapping.get("archive_missing")),
               "force": bool(mapping.get("force")),
               "project_id": to_id(mapping.get("project_id"))
               if mapping.get("project_id") is not None else None}
    if options["archive_missing"] and (mode != "sync" or not options["as_students"]):
        errors.append(error_item("archive_missing_needs_sync", "Ontbrekende leerlingen "
                                 "archiveren kan alleen bij synchroniseren als leerlingen "
                                 "(mode sync, as_students).", field="archive_missing"))
    if imp.kind == "participations":
        if "department" not in fields:
            errors.append(error_item("key_column_required", "Koppel een kolom aan het veld "
                                     "department (afdeling).", field="columns"))
        if options["project_id"] is None:
            errors.append(error_item("required", "Kies het roosterproject (project_id).",
                                     field="project_id"))
    if errors:
        raise validation_error(errors)
    return fields, options


def _row_error(row, header, field, code, message):
    return {"row": row, "column": header, "field": field, "code": code, "message": message}


def _field_value(number, field, raw, header, errors):
    """A CSV value by the one table of field rules (services/common/fields.py),
    the message naming the file's column; None after an error."""
    try:
        return fieldrules.clean(field, raw)
    except FieldError as exc:
        errors.append(_row_error(number, header, field, exc.code,
                                 fieldrules.error_message(exc, header or LABELS[field])))
        return None


def _user_values(number, values, fields, headers, as_students):
    """(clean values of the mapped fields, errors) of one users row."""
    clean, errors = {}, []
    for field, index in fields.items():
        raw = values[index] if index < len(values) else ""
        clean[field] = _field_value(number, field, raw, headers[index], errors)
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
    for number, values in table.rows:
        clean, errors = _user_values(number, values, fields, headers, options["as_students"])
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


def _part_values(number, values, fields, headers):
    clean, errors = {}, []
    for field, index in fields.items():
        raw = values[index] if index < len(values) else ""
        clean[field] = _field_value(number, field, raw, headers[index], errors)
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
    for number, values in table.rows:
        clean, errors = _part_values(number, values, fields, table.headers)
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
        imp.preview = {"rows": rows, "counts": counts, "plan": plan,
                       "fingerprints": fingerprints}
        imp.status = "previewed"
        imp.previewed_at = utcnow()
        imp.problem = None
        uow.commit()
    return {"rows": rows if preview_rows is None else rows[:max(0, preview_rows)],
            "counts": counts, "total": len(rows)}


# --- commit and undo ---------------------------------------------------------------------

def _changed_since(users, iid, fingerprints):
    current = _users_by_code(users, iid, fingerprints)
    changed = []
    for code, stamp in fingerprints.items():
        now = current.get(code)
        if stamp is None:
            if now is not None:
                changed.append(code)
        elif now is None or now["updated_at"] != stamp:
            changed.append(code)
    return changed


def _register_students(students, iid, codes, beat=None):
    """Student records for the imported student accounts (the students service
    owns them; its reaction to the accounts' events may have added some
    already). When it does not answer, that reaction adds them shortly after;
    the import itself is done. Returns how many of them have their record
    (None: deferred)."""
    registered = 0
    try:
        for start in range(0, len(codes), RPC_CHUNK):
            result = students.register_students(iid, codes[start:start + RPC_CHUNK],
                                                timeout=120)
            registered += len(result["registered"]) + len(result["existing"])
            if beat is not None:
                beat()
    except DomainError as exc:
        log.warning("student records of an import deferred to the account events: %s",
                    exc.code)
        return None
    return registered


def _save(db, import_id, institution_id, holder=None, **values):
    """Write `values`; with `holder` (a claim), only while that worker holds
    the import (False when it lost it)."""
    with db() as uow:
        imp = _load(uow.session, import_id, institution_id, light=True)
        if holder is not None and imp.claim != holder:
            uow.rollback()
            return False
        for key, value in values.items():
            setattr(imp, key, value)
        uow.commit()
        return True


def _problem(exc):
    return {"code": exc.code, "message": exc.message, "status": exc.status}


def _preview_required():
    return conflict("preview_required", "Bekijk eerst de voorvertoning (PUT "
                                        "/imports/{id}/mapping).")


def _committing():
    return conflict("import_committing", "Deze import wordt al verwerkt; volg de voortgang "
                                         "(GET /imports/{id}).")


def planned_changes(kind, plan):
    """How many changes a commit applies: the total of its progress."""
    if kind == "users":
        return len(plan["create"]) + len(plan["update"]) + len(plan["archive"])
    return len(plan["participations"])


def _job(imp):
    return {"id": imp.id, "institution_id": imp.institution_id, "kind": imp.kind,
            "preview": imp.preview, "options": imp.options or {}}


def commit(db, settings, users, students, import_id, institution_id, actor=None):
    """Apply the stored preview now and answer the counts (the original
    contract of POST /imports/{id}/commit)."""
    with db() as uow:
        imp = _load(uow.session, import_id, institution_id)
        if imp.status in ("committed", "undone"):
            return dict(imp.result or {}, repeated=True)
        if imp.status == "committing":
            raise _committing()
        if imp.status != "previewed" or not imp.preview:
            raise _preview_required()
        job = _job(imp)
    return _apply(db, users, students, job)


def start_commit(db, import_id, institution_id, actor=None):
    """POST /imports/{id}/commit?async=true: mark the import `committing` and
    leave the work to the service's own event (import_commit_requested); the
    answer is the import with its progress ({done, total}: changes applied of
    those planned). A committed (or committing) import answers as it is."""
    with db() as uow:
        imp = _load(uow.session, import_id, institution_id)
        if imp.status not in ("committing", "committed", "undone"):
            if imp.status != "previewed" or not imp.preview:
                raise _preview_required()
            imp.status = "committing"
            imp.progress_done = 0
            imp.progress_total = planned_changes(imp.kind, imp.preview["plan"])
            imp.problem = None
            imp.claim = None
            imp.claimed_at = utcnow()
            uow.add_event("import_commit_requested", imp.institution_id,
                          {"import_id": imp.id, "kind": imp.kind,
                           "changes": imp.progress_total})
            uow.commit()
        return import_dict(imp, preview_rows=0)


def claim_commit(db, import_id, token, stale_seconds, now=None):
    """Take a `committing` import for this worker when nobody holds it (or the
    holder went quiet); the job dict, or None."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=stale_seconds)
    with db() as uow:
        result = uow.session.execute(
            sa.update(imports)
            .where(imports.c.id == to_id(import_id), imports.c.status == "committing",
                   sa.or_(imports.c.claim.is_(None), imports.c.claimed_at < cutoff))
            .values(claim=token, claimed_at=now))
        if result.rowcount != 1:
            uow.rollback()
            return None
        uow.commit()
        imp = uow.session.get(Import, to_id(import_id))
        job = _job(imp)
        job["interrupted"] = bool(imp.undo)
        job["undo"] = imp.undo
        job["done"] = imp.progress_done
        return job


def run_commit(db, users, students, import_id, token, stale_seconds, chunk=PROGRESS_CHUNK):
    """The background commit: claim, apply in chunks recording progress (and
    what undo needs) after each, finish. A commit whose worker stopped halfway
    is not applied twice: it becomes `failed` with what it did so far, which
    undo can take back. Returns the result, or None when not claimed."""
    job = claim_commit(db, import_id, token, stale_seconds)
    if job is None:
        return None
    # a sign of life also while one chunk takes long (the users service
    # creating hundreds of accounts), so the resume timer never takes it over
    beat = eventlet.spawn(_heartbeat, db, job["id"], token, max(0.2, stale_seconds / 4))
    try:
        return _run_claimed(db, users, students, job, token, chunk)
    finally:
        beat.kill()


def _heartbeat(db, import_id, token, interval):
    while True:
        eventlet.sleep(interval)
        try:
            with db() as uow:
                uow.session.execute(sa.update(imports).where(
                    imports.c.id == import_id, imports.c.claim == token)
                    .values(claimed_at=utcnow()))
                uow.commit()
        except Exception:  # pragma: no cover - the next beat tries again
            log.exception("heartbeat of the commit of import %s failed", import_id)


def _run_claimed(db, users, students, job, token, chunk):
    import_id, iid = job["id"], job["institution_id"]
    if job["interrupted"]:
        problem = {"code": "commit_interrupted", "status": 409,
                   "message": f"De verwerking is onderbroken na {job['done']} wijziging(en). "
                              "Wat al was doorgevoerd kunt u ongedaan maken; begin daarna "
                              "een nieuwe import."}
        _save(db, import_id, iid, holder=token, status="failed", problem=problem, claim=None)
        return None
    try:
        return _apply(db, users, students, job, chunk=chunk, claim=token)
    except DomainError as exc:
        log.info("background commit of import %s stopped: %s", import_id, exc.code)
        return None


def _apply(db, users, students, job, chunk=RPC_CHUNK, claim=None):
    """Apply a job's preview. With `claim` (the background commit) progress,
    the worker's sign of life and the undo data are written after every
    chunk; a lost claim stops the work."""
    import_id, iid, kind = job["id"], job["institution_id"], job["kind"]
    preview_, options = job["preview"], job["options"]
    plan, counts = preview_["plan"], dict(preview_["counts"])
    done = 0

    def step(undo, n=0):
        nonlocal done
        done += n
        if claim is None:
            return
        if not _save(db, import_id, iid, holder=claim, progress_done=done,
                     claimed_at=utcnow(), undo=undo):
            raise DomainError("import_claim_lost", "Een andere verwerker heeft deze import "
                              "overgenomen.", status=409)

    def stopped(status, undo, result, exc):
        values = {"status": status, "problem": _problem(exc), "claim": None,
                  "progress_done": done}
        if undo is not None:
            values.update(undo=undo, result=result)
        _save(db, import_id, iid, holder=claim, **values)

    if kind == "users":
        changed = _changed_since(users, iid, preview_["fingerprints"])
        if changed:
            exc = DomainError("import_changed", f"{len(changed)} gebruiker(s) zijn gewijzigd "
                              "sinds de voorvertoning; bekijk de voorvertoning opnieuw.",
                              status=409, extra={"codes": changed[:50]})
            stopped("uploaded", None, None, exc)
            raise exc
        undo = {"created": {}, "updated": {}, "archived": {}}
        old = {r["code"]: {f: pair[0] for f, pair in r["changes"].items()}
               for r in preview_["rows"] if r["action"] == "update"}

        def partial():
            return {"counts": {"created": len(undo["created"]), "updated": len(undo["updated"]),
                               "archived": len(undo["archived"]), "unchanged": 0,
                               "failed": counts["error"]}}
        try:
            for start in range(0, len(plan["create"]), chunk):
                part = plan["create"][start:start + chunk]
                created = users.create_users(iid, part, timeout=120)
                undo["created"].update({u["code"]: u["updated_at"] for u in created["created"]})
                step(undo, len(part))
            for start in range(0, len(plan["update"]), chunk):
                part = plan["update"][start:start + chunk]
                updated = users.update_users(iid, part, timeout=120)
                undo["updated"].update({u["code"]: {"old": old[u["code"]],
                                                    "at": u["updated_at"]}
                                        for u in updated["updated"]})
                step(undo, len(part))
            for code in plan["archive"]:
                user = users.archive_user(iid, code)
                undo["archived"][code] = user["updated_at"]
                step(undo, 1)
            registered = _register_students(students, iid, plan.get("students") or [],
                                            beat=lambda: step(undo))
        except DomainError as exc:
            if exc.code != "import_claim_lost":
                stopped("failed", undo, partial(), exc)
            raise
        result = {"counts": {"created": len(undo["created"]), "updated": len(undo["updated"]),
                             "unchanged": counts["unchanged"],
                             "archived": len(undo["archived"]), "failed": counts["error"]},
                  "students": {"registered": registered or 0,
                               "deferred": registered is None}}
    else:
        undo = {"participations": []}
        failed = counts["error"]
        try:
            for part in _student_chunks(plan["participations"], size=chunk):
                placed = students.create_participations(iid, options["project_id"], part,
                                                        timeout=120)
                undo["participations"].extend(p["id"] for p in placed["created"])
                counts["unchanged"] += len(placed["skipped"])  # placed meanwhile: unchanged
                failed += len(placed["failed"])
                step(undo, len(part))
        except DomainError as exc:
            if exc.code != "import_claim_lost":
                stopped("failed", undo, {"counts": {
                    "created": len(undo["participations"]), "updated": 0,
                    "unchanged": counts["unchanged"], "archived": 0, "failed": failed}}, exc)
            raise
        result = {"counts": {"created": len(undo["participations"]), "updated": 0,
                             "unchanged": counts["unchanged"], "archived": 0,
                             "failed": failed}}
    with db() as uow:
        imp = _load(uow.session, import_id, iid)
        if claim is not None and imp.claim != claim:
            uow.rollback()
            return None
        imp.status = "committed"
        imp.result = result
        imp.undo = undo
        imp.committed_at = utcnow()
        imp.progress_done = done
        imp.progress_total = max(imp.progress_total or 0, done)
        imp.claim = None
        imp.problem = None
        uow.add_event("import_committed", imp.institution_id, {
            "import_id": imp.id, "kind": imp.kind, "counts": result["counts"]})
        uow.commit()
    return result


def stale_commits(uow, stale_seconds, now=None, quiet_seconds=10):
    """Background commits whose worker is gone: requested but never taken up
    (a lost event) or held by a worker that went quiet."""
    now = now or utcnow()
    stale = now - dt.timedelta(seconds=stale_seconds)
    quiet = now - dt.timedelta(seconds=quiet_seconds)
    rows = uow.session.execute(
        sa.select(imports.c.id).where(
            imports.c.status == "committing",
            sa.or_(sa.and_(imports.c.claim.is_(None),
                           sa.or_(imports.c.claimed_at.is_(None), imports.c.claimed_at < quiet)),
                   imports.c.claimed_at < stale))
        .order_by(imports.c.id).limit(20)).all()
    return [r.id for r in rows]


def undo(db, users, students, import_id, institution_id):
    with db() as uow:
        imp = _load(uow.session, import_id, institution_id)
        if imp.status == "undone":
            return dict(imp.result.get("undo") or {}, repeated=True)
        if imp.status == "committing":
            raise _committing()
        if imp.status not in ("committed", "failed") or not imp.undo:
            raise conflict("not_committed", "Alleen een verwerkte import kan ongedaan worden "
                                            "gemaakt.")
        kind, iid, data = imp.kind, imp.institution_id, imp.undo
    counts = {"removed": 0, "restored": 0, "unarchived": 0, "skipped": 0}
    skipped = []
    if kind == "users":
        codes = list(data["created"]) + list(data["updated"]) + list(data["archived"])
        current = _users_by_code(users, iid, codes)

        def untouched(code, stamp):
            now = current.get(code)
            return now is not None and now["updated_at"] == stamp

        created = [c for c, stamp in data["created"].items() if untouched(c, stamp)]
        skipped += [c for c in data["created"] if c not in created]
        if created:
            result = users.discard_users(iid, created, batch_events=True, timeout=120)
            counts["removed"] += len(result["discarded"])
            for code in result["kept"]:  # logged in meanwhile or older: archive instead
                users.archive_user(iid, code)
                counts["removed"] += 1
        restore = [{"code": c, **d["old"]} for c, d in data["updated"].items()
                   if untouched(c, d["at"])]
        skipped += [c for c, d in data["updated"].items() if not untouched(c, d["at"])]
        for start in range(0, len(restore), RPC_CHUNK):
            users.update_users(iid, restore[start:start + RPC_CHUNK], timeout=120)
        counts["restored"] = len(restore)
        for code, stamp in data["archived"].items():
            if untouched(code, stamp) and current[code]["archived"]:
                users.unarchive_user(iid, code)
                counts["unarchived"] += 1
            else:
                skipped.append(code)
    else:
        for part_id in data["participations"]:
            try:
                students.delete_participation(iid, part_id)
                counts["removed"] += 1
            except DomainError as exc:
                if exc.status != 404:
                    raise
                counts["skipped"] += 1
    counts["skipped"] += len(skipped)
    outcome = {"counts": counts, "skipped": skipped}
    with db() as uow:
        imp = _load(uow.session, import_id, institution_id)
        imp.status = "undone"
        imp.result = dict(imp.result or {}, undo=outcome)
        imp.undone_at = utcnow()
        uow.add_event("import_undone", imp.institution_id, {"import_id": imp.id,
                                                            "counts": counts})
        uow.commit()
    return outcome
