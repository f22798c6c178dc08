"""The mapping: which field each column of the file holds, and the mode."""
from services.common.errors import error_item, validation_error

from .. import csvfile
from ..handlers import to_id
from .records import MODES


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
