"""Undoing a commit where nothing has touched its records since."""
from services.common.errors import DomainError, conflict
from services.common.outbox import utcnow

from .previewing import _users_by_code
from .records import RPC_CHUNK, _committing, _load


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
            result = users.discard_users(iid, created, batch_events=True, deadline="batch")
            counts["removed"] += len(result["discarded"])
            for code in result["kept"]:  # logged in meanwhile or older: archive instead
                users.archive_user(iid, code)
                counts["removed"] += 1
        restore = [{"code": c, **d["old"]} for c, d in data["updated"].items()
                   if untouched(c, d["at"])]
        skipped += [c for c, d in data["updated"].items() if not untouched(c, d["at"])]
        for start in range(0, len(restore), RPC_CHUNK):
            users.update_users(iid, restore[start:start + RPC_CHUNK], deadline="batch")
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
