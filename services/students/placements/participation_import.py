"""Many participations from an import: each student's rows together."""
from services.common.errors import DomainError

from .participations import place_student


def create_participations(db, institution_id, project_id, rows):
    """Each student's rows committed together, all or nothing per student
    (place_student), in a unit of work of their own: reports exactly which
    rows were applied. A student already placed in the project is skipped with
    all their rows (import only, as the manual says); other refusals are
    listed per row. `db`: the service's unit-of-work factory."""
    created, skipped, failed = [], [], []
    groups = {}
    for index, data in enumerate(rows or [], 1):
        raw = data.get("student_number") if isinstance(data, dict) else None
        key = raw.strip() if isinstance(raw, str) else raw
        groups.setdefault(key if isinstance(key, (str, int)) else ("row", index),
                          []).append((index, data))
    for group in groups.values():
        try:
            with db() as uow:
                created.extend(place_student(uow, institution_id, project_id,
                                             [data for _i, data in group]))
        except DomainError as exc:
            if exc.status == 404 and exc.code == "not_found":
                raise  # the project itself
            items = _row_items(exc, group)
            (skipped if exc.status == 409 else failed).extend(items)
    return {"created": created, "skipped": skipped, "failed": failed}


def _row_items(exc, group):
    """The refusal of one student's rows, one item per row of the import."""
    by_row = {}
    for item in exc.errors or []:
        if isinstance(item.get("row"), int):
            by_row.setdefault(item["row"], item)
    items = []
    for position, (index, data) in enumerate(group, 1):
        own = by_row.get(position)
        if own is None and by_row:
            own = {"code": "other_row_invalid",
                   "message": "Een andere regel van deze leerling bevat een fout; "
                              "geen van de regels van de leerling is verwerkt."}
        own = own or {"code": exc.code, "message": exc.message}
        items.append({"row": index,
                      "student_number": data.get("student_number")
                      if isinstance(data, dict) else None,
                      "code": own["code"], "message": own["message"]})
    return items
