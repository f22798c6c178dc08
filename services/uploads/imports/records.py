"""An import's stored record: creating one from a file, reading it and its rows,
and the institution's list of imports."""
import contextlib
import gc
import hashlib
import time

import sqlalchemy as sa
from sqlalchemy import orm

from services.common import fields as fieldrules
from services.common.errors import DomainError, conflict, error_item, not_found, validation_error
from services.common.outbox import utcnow
from services.common.paging import page_args

from .. import csvfile, storage
from ..handlers import clean_filename, iso, to_id
from ..models import Import, import_previews, import_undo_parts, imports


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
# The shared field labels; an import file names the student number "Leerlingcode".
LABELS = {**{name: rule.label for name, rule in fieldrules.FIELDS.items()},
          "student_number": "Leerlingcode"}
USER_TYPES_NL = {"employee": "medewerker", "guardian": "ouder/verzorger"}


_gc = {"pauses": 0, "was_enabled": False}


@contextlib.contextmanager
def gc_paused():
    """The cyclic garbage collector paused while a preview or a commit builds
    or reads tens of thousands of small dicts and lists (no cycles among
    them), which it would otherwise scan over and over (half the preview's
    CPU). Counted: work overlapping in other green threads keeps it paused
    until the last one ends."""
    if _gc["pauses"] == 0:
        _gc["was_enabled"] = gc.isenabled()
        gc.disable()
    _gc["pauses"] += 1
    try:
        yield
    finally:
        _gc["pauses"] -= 1
        if _gc["pauses"] == 0 and _gc["was_enabled"]:
            gc.enable()


class Timed:
    """A service's RPC proxy that adds up the seconds its calls take, in all
    (`seconds`) and per method (`by_method`)."""

    def __init__(self, proxy):
        self.proxy = proxy
        self.seconds = 0.0
        self.by_method = {}

    def __getattr__(self, name):
        method = getattr(self.proxy, name)

        def call(*args, **kwargs):
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                spent = time.perf_counter() - started
                self.seconds += spent
                self.by_method[name] = self.by_method.get(name, 0.0) + spent
        return call

    def summary(self):
        return ", ".join(f"{name} {spent:.2f}s" for name, spent in self.by_method.items())


def _import_not_found():
    return not_found("import", "Import niet gevonden.")


def _load(session, import_id, institution_id, light=False):
    """The import (404 for another institution's). `light`: without the undo
    data (megabytes for a large file), loaded only when used. The stored
    preview is not part of it (import_previews; stored_preview)."""
    if to_id(import_id) is None:
        raise _import_not_found()
    if light:
        imp = session.execute(sa.select(Import).where(Import.id == to_id(import_id))
                              .options(orm.defer(Import.undo))).scalar_one_or_none()
    else:
        imp = session.get(Import, to_id(import_id))
    if imp is None or imp.institution_id != to_id(institution_id):
        raise _import_not_found()
    return imp


def _table(settings, imp, head=None):
    files = settings.files
    content = files.read(files.stat(storage.import_key(imp.id, ORIGINAL)))
    return csvfile.parse(content, imp.delimiter, imp.encoding, settings.limits.max_rows,
                         head=head)


def stored_counts(session, import_id):
    """The counts of the stored preview (None before one): its small part."""
    return session.execute(sa.select(import_previews.c.counts).where(
        import_previews.c.import_id == import_id)).scalar()


def stored_preview(session, import_id, *parts):
    """The named parts of the stored preview (counts, plan, fingerprints,
    rows) as a dict, or None before one."""
    row = session.execute(sa.select(*(import_previews.c[part] for part in parts)).where(
        import_previews.c.import_id == import_id)).first()
    return None if row is None else dict(zip(parts, row, strict=True))


def store_preview(session, import_id, rows, counts, plan, fingerprints):
    """Keep a new preview of the import (in place of an earlier one)."""
    session.execute(sa.delete(import_previews).where(import_previews.c.import_id == import_id))
    session.execute(sa.insert(import_previews).values(
        import_id=import_id, counts=counts, plan=plan, fingerprints=fingerprints, rows=rows))


def empty_undo(kind):
    """Undo data of a commit that changed nothing yet."""
    return {"created": {}, "updated": {}, "archived": {}} if kind == "users" \
        else {"participations": []}


def gathered_undo(session, imp):
    """The undo data of the import: imports.undo with the parts a background
    commit wrote so far (import_undo_parts) added, in their order; None when
    there is none (no chunk applied)."""
    parts = session.execute(sa.select(import_undo_parts.c.data)
                            .where(import_undo_parts.c.import_id == imp.id)
                            .order_by(import_undo_parts.c.part)).scalars().all()
    if not parts and not imp.undo:
        return None
    undo = empty_undo(imp.kind)
    for data in (imp.undo or {}, *parts):
        for key, value in data.items():
            if isinstance(value, dict):
                undo.setdefault(key, {}).update(value)
            else:
                undo.setdefault(key, []).extend(value)
    return undo


def drop_undo_parts(session, import_id):
    """The undo parts of the import, once imports.undo holds all of it."""
    session.execute(sa.delete(import_undo_parts).where(import_undo_parts.c.import_id == import_id))


def import_dict(imp, sample=None, preview_rows=None, counts=None, rows=None):
    """The import as the API answers it: the preview's `counts` (None before
    one) and `rows`, of which `preview_rows` (None: all; 0: none, the rows
    page through GET /imports/{id}/rows)."""
    if counts is not None:
        rows = [] if preview_rows == 0 or rows is None else \
            rows if preview_rows is None else rows[:max(0, preview_rows)]
    return {
        "id": imp.id, "institution_id": imp.institution_id, "kind": imp.kind,
        "status": imp.status, "filename": imp.filename,
        "delimiter": csvfile.DELIMITER_NAMES.get(imp.delimiter, imp.delimiter),
        "encoding": imp.encoding, "columns": list(imp.columns or []),
        "row_count": imp.row_count, "fields_available": list(csvfile.FIELDS[imp.kind]),
        "sample": sample if sample is not None else [],
        "mapping": imp.mapping, "options": imp.options,
        "preview": {"rows": rows, "counts": counts} if counts is not None else None,
        "result": imp.result, "created_by": imp.created_by,
        "created_at": iso(imp.created_at), "previewed_at": iso(imp.previewed_at),
        "committed_at": iso(imp.committed_at), "undone_at": iso(imp.undone_at),
        "progress": {"done": imp.progress_done or 0, "total": imp.progress_total or 0},
        "problem": imp.problem,
    }


def create_import(uow, settings, institution_id, kind, filename, content, delimiter=None,
                  encoding=None, actor_code=None, upload=None):
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
    storage.keep(settings, storage.import_key(imp.id, ORIGINAL), content, upload)
    uow.add_event("import_created", imp.institution_id, {"import_id": imp.id, "kind": kind,
                                                         "rows": imp.row_count})
    try:
        uow.commit()
    except Exception:
        storage.forget_import(settings, imp.id)
        raise
    return import_dict(imp, [values for _n, values in table.rows[:SAMPLE_ROWS]])


def get_import(uow, import_id, institution_id, preview_rows=None, sample_rows=0,
               settings=None):
    """The import; `sample_rows` > 0 reads that many first rows of the stored
    file again (the sample the labelling shows; none once the file is purged)."""
    imp = _load(uow.session, import_id, institution_id, light=True)
    # the rows (the bulk of the preview) only when the answer carries them
    stored = stored_preview(uow.session, imp.id, "counts", *(("rows",) if preview_rows != 0
                                                              else ()))
    sample = None
    if sample_rows and settings is not None and imp.purged_at is None:
        try:
            sample = [values for _n, values in _table(settings, imp,
                                                      head=min(sample_rows, 20)).rows]
        except (OSError, DomainError):
            sample = []
    return import_dict(imp, sample, preview_rows=preview_rows,
                       counts=stored and stored["counts"], rows=stored and stored.get("rows"))


def import_rows(uow, import_id, institution_id, page=1, page_size=50, action=None):
    """The stored preview's rows, paged, optionally of one action: what a page
    shows of a large import without carrying every row."""
    page, page_size = page_args(page, page_size)
    action = _choice(action, ROW_ACTIONS, "action", "actie")
    imp = _load(uow.session, import_id, institution_id, light=True)
    # the rows and counts only (not the plan and fingerprints beside them)
    stored = stored_preview(uow.session, imp.id, "rows", "counts")
    if stored is None:
        raise conflict("preview_required", "Deze import heeft nog geen voorvertoning: label "
                                           "eerst de kolommen (PUT /imports/{id}/mapping).")
    rows, counts = stored["rows"] or [], stored["counts"]
    if action:
        rows = [row for row in rows if row["action"] == action]
    start = (page - 1) * page_size
    return {"items": rows[start:start + page_size], "total": len(rows), "page": page,
            "page_size": page_size, "counts": counts, "action": action}


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
                  import_previews.c.counts.label("preview_counts"), imports.c.created_by,
                  imports.c.created_at, imports.c.previewed_at, imports.c.committed_at,
                  imports.c.undone_at)
        .select_from(imports.outerjoin(import_previews,
                                       import_previews.c.import_id == imports.c.id))
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


def _committing():
    return conflict("import_committing", "Deze import wordt al verwerkt; volg de voortgang "
                                         "(GET /imports/{id}).")
