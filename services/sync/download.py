"""Downloads: the changes the desktop must apply, from the portal read the
differences showed.
"""
import sqlalchemy as sa

from services.common.outbox import utcnow

from . import apply_download, compare, diff_packages, kept
from .models import portal_reads, snapshots
from .portal import current_portal
from .selection import selected_items
from .store import (find_row, from_json, iso_utc, load_snapshot, paused_gc, release, to_json,
                    transfer_request)


def download(uow, students, users, institution_id, project_id, category, departments=None,
             student_numbers=None):
    """The changes the desktop must apply for the selected differences (from the
    portal read the differences showed); the stored snapshot is changed to
    match, so the category is ok afterwards for the selection. A packages
    download never touches the desktop's packages of a department for which
    the portal holds no package choices: such departments of the selection are
    answered under `skipped` (code no_packages_in_portal)."""
    iid, pid, departments, numbers = transfer_request(
        uow, students, institution_id, project_id, category, "download", departments,
        student_numbers)
    if find_row(uow.session, portal_reads, iid, pid, columns=[portal_reads.c.id]) is None:
        _row_, desktop = load_snapshot(uow, students, iid, pid)
        current_portal(uow, students, users, iid, pid, desktop, refresh=True)
    # read-modify-write of the snapshot under its row lock (PostgreSQL), the
    # portal read taken under it too: the status kept is of these two
    row, desktop = load_snapshot(uow, students, iid, pid, for_update=True)
    stored = find_row(uow.session, portal_reads, iid, pid)
    portal = from_json(stored.data)
    with paused_gc():
        items = selected_items(category, "download", portal, desktop, departments, numbers)
        skipped = diff_packages.packages_skipped(portal, desktop, departments, numbers) \
            if category == "packages" else []
        changes = apply_download.apply_download(category, portal, desktop, items)
    if changes:
        kept_status = from_json(row.status) \
            if row.status is not None and row.status_of == iso_utc(stored.as_of) else None
        categories = kept.compare_again(uow.session, iid, pid, kept_status,
                                        {i["student_number"] for i in items}, portal, desktop)
        uow.session.execute(sa.update(snapshots).where(snapshots.c.id == row.id).values(
            data=to_json(desktop), student_count=len(desktop["students"]),
            updated_at=utcnow(), **kept.status_values(categories, portal["as_of"])))
        uow.commit()
        entry = categories[category]
    else:
        release(uow)
        with paused_gc():
            entry = compare.category_status(category, portal, desktop)
    return {"project_id": pid, "category": category, "as_of": portal["as_of"],
            "changes": changes, "count": len(changes), "skipped": skipped, "status": entry}
