"""Committing a preview: at once or in the background (claimed, with progress),
and the commits left behind by a stopped instance."""
import datetime as dt
import logging
import time
import uuid

import eventlet
import sqlalchemy as sa

from services.common.errors import DomainError, conflict
from services.common.outbox import utcnow

from ..handlers import to_id
from ..models import Import, import_undo_parts, imports
from .previewing import _student_chunks, _users_by_code
from .records import (PROGRESS_CHUNK, RPC_CHUNK, Timed, _committing, _load, drop_undo_parts,
                      empty_undo, gathered_undo, gc_paused, import_dict, stored_counts,
                      stored_preview)

log = logging.getLogger(__name__)

# the largest chunk of one users or students batch call
MAX_CHUNK = 5000


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
                                                deadline="batch")
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
    the import (False when it lost it). Writing `undo` (all of it) drops the
    undo parts the progress saves wrote."""
    with db() as uow:
        imp = _load(uow.session, import_id, institution_id, light=True)
        if holder is not None and imp.claim != holder:
            uow.rollback()
            return False
        for key, value in values.items():
            setattr(imp, key, value)
        if "undo" in values:
            drop_undo_parts(uow.session, imp.id)
        uow.commit()
        return True


def _save_progress(db, import_id, holder, done, part=None, undo=None):
    """A progress save of the background commit: the changes done, the
    worker's sign of life and, as undo part `part`, what undo needs of the
    chunk just applied (`undo`: that chunk's entries only; the parts before it
    are not written again). Only while `holder` holds the import (False when
    it lost it). The import row is updated, not loaded."""
    with db() as uow:
        held = uow.session.execute(
            sa.update(imports).where(imports.c.id == import_id, imports.c.claim == holder)
            .values(progress_done=done, claimed_at=utcnow())).rowcount == 1
        if not held:
            uow.rollback()
            return False
        if undo is not None:
            uow.session.execute(sa.insert(import_undo_parts).values(
                import_id=import_id, part=part, data=undo))
        uow.commit()
        return True


def _problem(exc):
    return {"code": exc.code, "message": exc.message, "status": exc.status}


def _preview_required():
    return conflict("preview_required", "Bekijk eerst de voorvertoning (PUT "
                                        "/imports/{id}/mapping).")


def planned_changes(kind, plan):
    """How many changes a commit applies: the total of its progress."""
    if kind == "users":
        return len(plan["create"]) + len(plan["update"]) + len(plan["archive"])
    return len(plan["participations"])


def _job(session, imp):
    """What a commit applies: the stored preview's plan, counts and
    fingerprints; its rows (the bulk of it) only when updates need their old
    values. Read once: the chunks and their progress saves do not touch the
    stored preview again."""
    preview = stored_preview(session, imp.id, "plan", "counts", "fingerprints")
    if preview is None:
        raise _preview_required()
    preview["fingerprints"] = preview["fingerprints"] or {}
    preview["rows"] = []
    if preview["counts"].get("update"):
        preview["rows"] = stored_preview(session, imp.id, "rows")["rows"]
    return {"id": imp.id, "institution_id": imp.institution_id, "kind": imp.kind,
            "preview": preview, "options": imp.options or {}}


def commit(db, settings, users, students, import_id, institution_id, actor=None):
    """Apply the stored preview now and answer the counts (the original
    contract of POST /imports/{id}/commit)."""
    with db() as uow:
        imp = _load(uow.session, import_id, institution_id, light=True)
        if imp.status in ("committed", "undone"):
            return dict(imp.result or {}, repeated=True)
        if imp.status == "committing":
            raise _committing()
        if imp.status != "previewed" or not stored_counts(uow.session, imp.id):
            raise _preview_required()
        job = _job(uow.session, imp)
    with gc_paused():
        return _apply(db, users, students, job)


def start_commit(db, import_id, institution_id, actor=None):
    """POST /imports/{id}/commit?async=true: mark the import `committing` and
    leave the work to the service's own event (import_commit_requested); the
    answer is the import with its progress ({done, total}: changes applied of
    those planned). A committed (or committing) import answers as it is."""
    with db() as uow:
        # the counts of the preview, not its rows: megabytes for a large file
        imp = _load(uow.session, import_id, institution_id, light=True)
        counts = stored_counts(uow.session, imp.id)
        if imp.status not in ("committing", "committed", "undone"):
            if imp.status != "previewed" or not counts:
                raise _preview_required()
            imp.status = "committing"
            imp.progress_done = 0
            imp.progress_total = counts["create"] + (
                counts["update"] + counts["archive"] if imp.kind == "users" else 0)
            imp.problem = None
            imp.claim = None
            imp.claimed_at = utcnow()
            uow.add_event("import_commit_requested", imp.institution_id,
                          {"import_id": imp.id, "kind": imp.kind,
                           "changes": imp.progress_total})
            uow.commit()
        return import_dict(imp, preview_rows=0, counts=counts)


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
        imp = uow.session.execute(sa.select(Import).where(Import.id == to_id(import_id))
                                  ).scalar_one()
        job = _job(uow.session, imp)
        # a worker before this one applied chunks: their undo data (parts)
        job["undo"] = gathered_undo(uow.session, imp)
        job["interrupted"] = job["undo"] is not None
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
        with gc_paused():
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
        _save(db, import_id, iid, holder=token, status="failed", problem=problem, claim=None,
              undo=job["undo"])
        return None
    try:
        return _apply(db, users, students, job, chunk=chunk, claim=token)
    except DomainError as exc:
        log.info("background commit of import %s stopped: %s", import_id, exc.code)
        return None


def _parts(items, chunk):
    """`items` in chunks: `chunk` at first (progress moves at once), then half
    of what is done so far, at most MAX_CHUNK: a large import makes some
    fifteen calls and progress saves rather than a hundred. (A progress save
    writes the small import row and the chunk's own undo part, not the stored
    preview nor the undo data of the chunks before it.)"""
    start = 0
    while start < len(items):
        size = max(chunk, min(MAX_CHUNK, start // 2))
        yield items[start:start + size]
        start += size


def _apply(db, users, students, job, chunk=RPC_CHUNK, claim=None):
    """Apply a job's preview. With `claim` (the background commit) progress,
    the worker's sign of life and the chunk's undo data are written after
    every chunk; a lost claim stops the work. A progress save writes what
    is proportional to its chunk, not to the import: the stored preview is
    read once (the job), and the undo data of the chunks before are not
    written again (import_undo_parts); all of it is written once at the
    end."""
    started = time.perf_counter()
    users = Timed(users)
    import_id, iid, kind = job["id"], job["institution_id"], job["kind"]
    preview_, options = job["preview"], job["options"]
    plan, counts = preview_["plan"], dict(preview_["counts"])
    done = 0
    parts = 0

    def step(part=None, n=0):
        """After a chunk: `n` more changes done, `part` what undo needs of
        them (None: a sign of life only)."""
        nonlocal done, parts
        done += n
        if claim is None:
            return
        if not _save_progress(db, import_id, claim, done, parts, part):
            raise DomainError("import_claim_lost", "Een andere verwerker heeft deze import "
                              "overgenomen.", status=409)
        if part is not None:
            parts += 1

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
        undo = empty_undo(kind)
        old = {r["code"]: {f: pair[0] for f, pair in r["changes"].items()}
               for r in preview_["rows"] if r["action"] == "update"}

        def partial():
            return {"counts": {"created": len(undo["created"]), "updated": len(undo["updated"]),
                               "archived": len(undo["archived"]), "unchanged": 0,
                               "failed": counts["error"]}}
        try:
            for part in _parts(plan["create"], chunk):
                # one users_created_batch event per chunk, not one user_created per user
                created = users.create_users(iid, part, batch_events=True, brief=True,
                                             deadline="batch")
                new = {u["code"]: u["updated_at"] for u in created["created"]}
                undo["created"].update(new)
                step({"created": new}, len(part))
            for part in _parts(plan["update"], chunk):
                updated = users.update_users(iid, part, deadline="batch")
                new = {u["code"]: {"old": old[u["code"]], "at": u["updated_at"]}
                       for u in updated["updated"]}
                undo["updated"].update(new)
                step({"updated": new}, len(part))
            for code in plan["archive"]:
                user = users.archive_user(iid, code)
                undo["archived"][code] = user["updated_at"]
                step({"archived": {code: user["updated_at"]}}, 1)
            registered = _register_students(students, iid, plan.get("students") or [],
                                            beat=step)
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
        undo = empty_undo(kind)
        failed = counts["error"]
        try:
            for part in _student_chunks(plan["participations"], size=chunk):
                placed = students.create_participations(iid, options["project_id"], part,
                                                        deadline="batch")
                new = [p["id"] for p in placed["created"]]
                undo["participations"].extend(new)
                counts["unchanged"] += len(placed["skipped"])  # placed meanwhile: unchanged
                failed += len(placed["failed"])
                step({"participations": new}, len(part))
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
        imp = _load(uow.session, import_id, iid, light=True)
        if claim is not None and imp.claim != claim:
            uow.rollback()
            return None
        imp.status = "committed"
        imp.result = result
        imp.undo = undo
        drop_undo_parts(uow.session, imp.id)
        imp.committed_at = utcnow()
        imp.progress_done = done
        imp.progress_total = max(imp.progress_total or 0, done)
        imp.claim = None
        imp.problem = None
        uow.add_event("import_committed", imp.institution_id, {
            "import_id": imp.id, "kind": imp.kind, "counts": result["counts"]})
        uow.commit()
    log.info("import %s committed: %d change(s) in %.2fs, of which %.2fs in the users "
             "service's calls (%s)", import_id, done, time.perf_counter() - started,
             users.seconds, users.summary())
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


def resume_stale_commits(db, users, students, stale_seconds):
    """Background commits that were never taken up (a lost event) or whose
    worker went quiet: taken up, or marked as interrupted."""
    with db() as uow:
        stale = stale_commits(uow, stale_seconds)
    for import_id in stale:
        try:
            run_commit(db, users, students, import_id, str(uuid.uuid4()), stale_seconds)
        except Exception:
            log.exception("resuming the commit of import %s failed", import_id)
