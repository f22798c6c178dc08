"""The background work of a student list: checking it after submission and
loading it after approval. Started by the service's own events
(`submission_received`, `submission_approved`) and, for work whose worker
went quiet (a crash, a lost message), by the resume timer.

Over 400 lines: the check and the load share the claim, the heartbeat and the
resume of one submission's background work.

A job first claims the submission in the database (handlers.claim): only one
worker holds it, a redelivered or duplicate message finds it taken or done.
Parsing and checking run in a child process (checkproc.py) so the hub keeps
serving RPC and heartbeats without waiting for the GIL, and the sheet the
reader holds never weighs on the service's memory; a green thread meanwhile
records progress and keeps the claim alive. The report is built in a real
thread (eventlet.tpool). Loading goes in chunks through students.create_students;
when a load starts (or resumes) the students of the list that already exist are
asked for once and skipped, so a chunk repeated after a crash loads nothing
twice; a chunk refused because one was created since is asked again.

Every chunk carries the list's origin key (load_origin): the users and
students services store it with the accounts and records they create, so a
chunk retried after a crash between the users commit and the students commit
adopts its own accounts, and the counts (loaded, skipped) are what the
students service actually holds for this list, whatever attempt stored it.
"""
import contextlib
import json
import logging
import os
import time
import uuid
from pathlib import Path

import eventlet
from eventlet import tpool

from services.common.errors import DomainError
from services.common.events import MAX_INSTITUTION_ID, PermanentEventError, parse_envelope

from . import checkproc, handlers, mailer, report, rules, storage, validate
from . import columns as colspec
from .pipeline import in_order
from .readycheck import READY

log = logging.getLogger(__name__)

LOOKUP_CHUNK = 5000
CHECK_TIMEOUT = 600
# a long list is checked in two halves in parallel where there are two cores
CHECK_WORKERS = min(2, os.cpu_count() or 1)


class Unreadable(Exception):
    pass


class Jobs:
    def __init__(self, db, settings, students, students_load=None, users=None):
        self.db = db
        self.settings = settings
        self.students = students
        self.students_load = students_load or students
        self.users = users

    # -- helpers --------------------------------------------------------------
    @contextlib.contextmanager
    def _beating(self, submission_id, token, progress=None, interval=1.0):
        def beat():
            while True:
                eventlet.sleep(interval)
                try:
                    with self.db() as uow:
                        handlers.heartbeat(uow, submission_id, token,
                                           progress.done if progress is not None else None)
                except Exception:  # pragma: no cover - the next beat tries again
                    log.exception("heartbeat of submission %s failed", submission_id)
        thread = eventlet.spawn(beat)
        try:
            yield
        finally:
            thread.kill()

    def _release(self, submission_id, token):
        try:
            with self.db() as uow:
                handlers.release(uow, submission_id, token)
        except Exception:  # pragma: no cover
            log.exception("could not release submission %s", submission_id)

    def _claim(self, submission_id, state):
        """(submission, token) when this job may take it into `state`, else (None, token)."""
        token = str(uuid.uuid4())
        with self.db() as uow:
            return handlers.claim(uow, submission_id, state, token,
                                  self.settings.stale_seconds), token

    def existing_bsns(self, institution_id, numbers):
        found = {}
        for start in range(0, len(numbers), LOOKUP_CHUNK):
            chunk = numbers[start:start + LOOKUP_CHUNK]
            found.update(self.students.bsn_by_student_numbers(institution_id, chunk) or {})
        return found

    # -- validation -----------------------------------------------------------
    def validate(self, submission_id):
        try:
            return self._validate(submission_id)
        finally:
            READY.prepare()  # the next list's check process, after this verdict

    def _validate(self, submission_id):
        sub, token = self._claim(submission_id, "validating")
        if sub is None:
            return None
        folder = storage.submission_dir(self.settings.data_dir, sub["id"])
        progress = validate.Progress(total=sub["progress"]["total"])
        started = time.perf_counter()
        lookups = []  # the students lookups of the numbers the check has found so far

        def look_up(numbers):
            lookups.append(eventlet.spawn(self.students.bsn_by_student_numbers,
                                          sub["institution_id"], numbers))
        try:
            with self._beating(sub["id"], token, progress):
                outcome = self._check_in_child(sub, folder, progress, look_up)
        except Unreadable as exc:
            _kill(lookups)
            log.warning("submission %s unreadable: %s", sub["id"], exc)
            with self.db() as uow:
                done = handlers.reject_unreadable(uow, sub["id"], token)
            if done:
                mailer.notify("rejected", done, self.settings)
            return done
        except Exception:
            _kill(lookups)
            self._release(sub["id"], token)
            raise
        parsed = time.perf_counter()
        try:
            existing = {}
            for thread in lookups:
                existing.update(thread.wait() or {})
        except Exception:
            _kill(lookups)
            outcome.numbers.discard()
            log.exception("students lookup for submission %s failed; retried later", sub["id"])
            self._release(sub["id"], token)
            raise
        looked_up = time.perf_counter()
        # only rows whose number exists can mismatch (not 50,000 dicts for a new school,
        # and the numbers not read at all when none exists)
        rows = [{"student_number": n, "bsn": b, "_row": r}
                for n, b, r in outcome.numbers.among(existing)] if existing else []
        outcome.numbers.discard()
        cols = colspec.columns(sub["school_type"], sub["student_type"])
        mismatches = rules.mismatch_errors(rows, existing, cols)
        errors, conflicts = list(outcome.errors), []
        error_count = outcome.error_count
        if sub["source"] == "public":
            # never tell an anonymous submitter which students exist: reviewers see these
            conflicts = [{k: e[k] for k in ("row", "column", "code", "message")}
                         for e in mismatches]
        elif mismatches:
            for err in mismatches:
                err["cell"] = None
            errors = sorted(errors + mismatches,
                            key=lambda e: (e.get("row") or 0, e.get("column") or ""))
            errors = errors[:self.settings.max_errors]
            error_count += len(mismatches)
        with self.db() as uow:
            done = handlers.finish_validation(uow, sub["id"], token, outcome.rows, errors,
                                              error_count, conflicts)
        if done is None:
            return None
        log.info("submission %s: %s, %d rows, %d errors; read and checked in %.2fs "
                 "(check process peak RSS %s MB + %s MB of its forked part, CPU %ss), looked "
                 "up in %.2fs, verdict after %.2fs; the check process started in %ss",
                 done["id"], done["status"], outcome.rows, error_count, parsed - started,
                 getattr(outcome, "child_peak_rss_mb", None),
                 getattr(outcome, "part_private_mb", None) or 0,
                 getattr(outcome, "child_cpu_seconds", None), looked_up - parsed,
                 time.perf_counter() - started, getattr(outcome, "child_startup_seconds", None))
        if done["status"] == "rejected":
            (folder / storage.ROWS).unlink(missing_ok=True)
        mailer.notify("received" if done["status"] == "awaiting_review" else "rejected", done,
                      self.settings)
        if done["status"] == "rejected":
            self.build_report(done["id"])
        return done

    def resume_stale(self):
        """Validation or loading whose worker went quiet is taken up again."""
        with self.db() as uow:
            stale = handlers.stale_work(uow, self.settings.stale_seconds)
        for submission_id, status in stale:
            try:
                if status == "validating":
                    self.validate(submission_id)
                else:
                    self.load(submission_id)
            except Exception:
                log.exception("resuming submission %s failed", submission_id)

    # -- the helpdesk's notice ----------------------------------------------------
    def on_validated(self, payload):
        """The `submission_validated` event: a list awaiting review gets the
        helpdesk's notice. A malformed event is a PermanentEventError (parked)."""
        data = parse_envelope(payload, "submission_validated").data
        submission_id = data.get("submission_id")
        if isinstance(submission_id, bool) or not isinstance(submission_id, int) \
                or not 0 < submission_id <= MAX_INSTITUTION_ID:
            raise PermanentEventError("data.submission_id is missing or out of range")
        if data.get("status") == "awaiting_review":
            self.notify_helpdesk(submission_id)

    def notify_helpdesk(self, submission_id):
        """Tell the helpdesk, once, that the list awaits review (the
        `submission_validated` event; a redelivered one finds it told).

        The recipient is LEERLINGBUS_HELPDESK_EMAIL, else the e-mail address
        of the platform's helpdesk account (users service); with neither
        nothing is sent and one line is logged. The users service is asked
        before the notice is marked, so a failing RPC leaves it due (the event
        is retried); a mail that cannot be sent is logged (mailer.send)."""
        with self.db() as uow:
            due = handlers.helpdesk_notice_due(uow, submission_id)
        if due is None:
            return None
        recipient = self.settings.helpdesk_email or self.users.helpdesk_email()
        school = self.users.get_institution(due["institution_id"]) if recipient else {}
        with self.db() as uow:
            sub = handlers.claim_helpdesk_notice(uow, submission_id)
        if sub is None:
            return None
        if not recipient:
            log.warning("submission %s awaits review; no helpdesk notice sent: no e-mail "
                        "address known (set LEERLINGBUS_HELPDESK_EMAIL or the helpdesk "
                        "account's e-mail)", sub["id"])
            return False
        return mailer.send(mailer.compose_helpdesk_notice(sub, school, recipient,
                                                          self.settings), self.settings)

    def _check_in_child(self, sub, folder, progress, look_up):
        """validate.check_file in a child process (checkproc.py) on a local
        copy of the original (the file itself with the local store); the
        outcome, with progress updated as the child reports it and
        `look_up(numbers)` called with each chunk of student numbers it finds."""
        files = self.settings.files
        folder.mkdir(parents=True, exist_ok=True)
        with files.local_path(files.stat(storage.submission_key(sub["id"], storage.ORIGINAL))) \
                as original:
            return self._run_check(sub, folder, progress, original, look_up)

    def _run_check(self, sub, folder, progress, original, look_up):
        """The child writes its lines to a file this follows (a green pipe read
        line by line spun the hub: four times the child's CPU, taken from it)."""
        name = f".check-{uuid.uuid4().hex}"
        args = {"path": str(original), "school_type": sub["school_type"],
                "student_type": sub["student_type"],
                "sheet": sub["sheet"] or colspec.SHEET_TITLE,
                "rows_path": str(folder / storage.ROWS), "max_errors": self.settings.max_errors,
                "max_rows": self.settings.limits.max_rows, "lookup_chunk": LOOKUP_CHUNK,
                "workers": CHECK_WORKERS, "t0": time.time(),
                "result_path": str(folder / f"{name}.json"),
                "numbers_path": str(folder / f"{name}.numbers")}
        out_path, err_path = folder / f"{name}.out", folder / f"{name}.err"
        args.update(out_path=str(out_path), err_path=str(err_path))
        result = None
        try:
            with open(out_path, "wb") as out, open(err_path, "wb") as err:
                proc = READY.start(args, out, err)  # the one kept ready, else a new one

            def line(text):
                if text.startswith(b"progress "):
                    progress.done = int(text.split()[1])
                elif text.startswith(b"numbers "):
                    look_up(json.loads(text[8:]))
            status = _follow(proc, out_path, line, CHECK_TIMEOUT)
            stderr = err_path.read_bytes()
            result_path = Path(args["result_path"])
            if status == 0 and result_path.exists():
                result = json.loads(result_path.read_bytes())
                result_path.unlink()
        finally:
            out_path.unlink(missing_ok=True)
            err_path.unlink(missing_ok=True)
            if result is None:
                Path(args["numbers_path"]).unlink(missing_ok=True)
                remove_partial_rows(folder)
        if status == checkproc.UNREADABLE:
            raise Unreadable(stderr.decode(errors="replace").strip()[:200])
        if status != 0 or result is None:
            raise RuntimeError(f"the check process failed ({status}): "
                               f"{stderr.decode(errors='replace')[-500:]}")
        outcome = validate.Outcome(rows=result["rows"], errors=result["errors"],
                                   error_count=result["error_count"],
                                   numbers=_NumbersFile(Path(args["numbers_path"])))
        outcome.child_peak_rss_mb = result.get("peak_rss_mb")
        outcome.child_cpu_seconds = result.get("cpu_seconds")
        outcome.part_private_mb = result.get("part_private_mb")
        outcome.child_startup_seconds = result.get("startup_seconds")
        return outcome

    # -- the report ---------------------------------------------------------------
    def build_report(self, submission_id):
        """report.xlsx of a checked submission (in a real thread); the bytes."""
        with self.db() as uow:
            sub = handlers.load_submission(uow.session, submission_id)
            errors, error_count = list(sub.errors or []), sub.error_count
            sheet = sub.sheet_name or colspec.SHEET_TITLE
            sid, kind = sub.id, (sub.school_type, sub.student_type)
        files = self.settings.files
        with files.local_path(files.stat(storage.submission_key(sid, storage.ORIGINAL))) \
                as original:
            data = tpool.execute(_report_bytes, original, sheet, errors, error_count, *kind)
        files.put(storage.submission_key(sid, storage.REPORT), data)
        with self.db() as uow:
            handlers.set_report_ready(uow, sid)
        return data

    # -- loading -------------------------------------------------------------------
    def load(self, submission_id):
        sub, token = self._claim(submission_id, "loading")
        if sub is None:
            return None
        try:
            return self._load(sub, token)
        except Exception:
            log.exception("loading submission %s stopped; retried later", sub["id"])
            self._release(sub["id"], token)
            raise

    def _load(self, sub, token):
        folder = storage.submission_dir(self.settings.data_dir, sub["id"])
        rows = tpool.execute(storage.read_rows, folder / storage.ROWS)
        institution_id, project_id = sub["institution_id"], sub["project_id"]
        actor = {"code": sub["decided_by"], "roles": ["helpdesk"], "via": "uploads",
                 "submission_id": sub["id"]}
        done = sub["progress"]["done"]
        load_errors = list(sub["load_errors"] or [])
        chunk_size = self.settings.load_chunk
        origin = load_origin(sub)
        failure = None
        with self._beating(sub["id"], token):

            def load_chunk(start):
                return self._load_chunk(institution_id, project_id, actor,
                                        rows[start:start + chunk_size], origin)

            # the next chunk goes out while this one's progress is saved, unless
            # this one failed (the load stops there)
            with contextlib.closing(in_order(load_chunk, range(done, len(rows), chunk_size),
                                              self.settings.load_parallel,
                                              go_on=lambda outcome: outcome[1] is None)) \
                    as results:
                for start, (notes, failure) in results:
                    if failure is not None:
                        break
                    done = min(start + chunk_size, len(rows))
                    load_errors += _new_notes(load_errors, notes)
                    if not self._progress(sub["id"], token, institution_id, origin, done,
                                          load_errors):
                        return None  # the claim was taken over
            if failure is not None:
                # the chunks that ran beside the refused one have finished: count them
                if not self._progress(sub["id"], token, institution_id, origin, done,
                                      load_errors):
                    return None
                with self.db() as uow:
                    return handlers.finish_load(uow, sub["id"], token, "load_failed",
                                                load_errors + failure)
        with self.db() as uow:
            result = handlers.finish_load(uow, sub["id"], token, "loaded", load_errors)
        if result is not None:
            mailer.notify("approved", result, self.settings)
        return result

    def _progress(self, submission_id, token, institution_id, origin, done, load_errors):
        """Record progress up to row `done`, with the counts the students service
        holds for this list; False when the claim was taken over."""
        loaded = self.students.count_by_origin(institution_id, origin)
        with self.db() as uow:
            return handlers.load_progress(uow, submission_id, token, done, loaded,
                                          max(done - loaded, 0), load_errors)

    def _load_chunk(self, institution_id, project_id, actor, chunk, origin):
        """(notes, failure) for one chunk of clean rows. The chunk's students
        that exist already (an earlier attempt of this load, or made since the
        check) are asked for first, by each chunk for itself, so the first
        chunk goes out at once instead of after a lookup of the whole list; a
        chunk refused because one was created meanwhile is asked again."""
        last = None
        for _attempt in range(2):
            existing = self.existing_bsns(institution_id, [r["student_number"] for r in chunk])
            todo, notes = [], []
            for row in chunk:
                number = row["student_number"]
                if number not in existing:
                    todo.append(row)
                elif existing[number] and row.get("bsn") and existing[number] != row["bsn"]:
                    notes.append({"row": row["_row"], "column": "Leerlingnummer",
                                  "code": "student_number_bsn_mismatch",
                                  "message": rules.message("student_number_bsn_mismatch",
                                                           value=number)})
            if not todo:
                return notes, None
            try:
                self.students_load.create_students(
                    institution_id, [rules.students_rpc_row(r, project_id) for r in todo],
                    project_id=project_id, actor=actor, origin_key=origin)
            except DomainError as exc:
                if exc.status >= 500:
                    raise  # a neighbour down: not the list's fault, resumed later
                if exc.status == 409 and last is None:
                    last = exc
                    continue  # created meanwhile (a duplicate message): ask again
                return [], _map_row_errors(exc, todo)
            return notes, None
        return [], _map_row_errors(last, todo)  # pragma: no cover


class _NumbersFile:
    """The (student number, BSN, sheet row) of a checked list's clean rows as
    the check process wrote them: read when used, never all held at once."""

    def __init__(self, path):
        self.path = path

    def __iter__(self):
        return self.among(None)

    def among(self, wanted):
        """The entries (all when `wanted` is None) whose number is in `wanted`;
        the others' lines are not taken apart."""
        with open(self.path, encoding="utf-8") as lines:
            for line in lines:
                if wanted is not None and line[:line.index("\t")] not in wanted:
                    continue
                number, bsn, row = line.rstrip("\n").split("\t")
                yield number, bsn or None, int(row)

    def discard(self):
        self.path.unlink(missing_ok=True)


def _follow(proc, path, on_line, timeout, interval=0.02):
    """Wait for `proc` (green), handing each complete line it writes to the
    file at `path` to `on_line`; its exit status. Killed past `timeout`."""
    deadline = time.monotonic() + timeout
    pending = b""
    with open(path, "rb") as lines:
        while True:
            status = proc.poll()
            pending += lines.read()
            *complete, pending = pending.split(b"\n")
            for text in complete:
                on_line(text)
            if status is not None:
                return status
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise RuntimeError("checking took too long")
            eventlet.sleep(interval)


def remove_partial_rows(folder):
    """The rows files a check left half-written when it failed or was killed
    (`.rows.jsonl.gz.<...>.tmp`, the later part's `.rows.jsonl.gz.<pid>.part`
    and its own temporary file); the finished rows file stays."""
    for leftover in folder.glob(f"*.{storage.ROWS}.*"):
        leftover.unlink(missing_ok=True)


def _kill(threads):
    for thread in threads:
        thread.kill()


def load_origin(sub):
    """The origin key of a list's load: the same for every attempt and every
    approval of that list, different for any other list."""
    return f"submission:{sub['id']}:{sub['created_at']}"


def _new_notes(known, notes):
    """Notes not recorded yet (a chunk repeated after a crash notes again)."""
    seen = {(n.get("row"), n.get("code")) for n in known}
    return [n for n in notes if (n.get("row"), n.get("code")) not in seen]


def _map_row_errors(exc, todo):
    """The students service's row errors (1-based within the call) mapped
    onto the sheet's rows."""
    out = []
    for err in exc.errors or [{"code": exc.code, "message": exc.message}]:
        row = err.get("row")
        sheet_row = todo[row - 1]["_row"] if isinstance(row, int) and 0 < row <= len(todo) \
            else None
        out.append({"row": sheet_row, "column": None, "field": err.get("field"),
                    "code": err.get("code", exc.code), "message": err.get("message", "")})
    return out


def _report_bytes(path, sheet, errors, error_count, school_type, student_type):
    return report.build_report(validate.read_cells(path, sheet), errors, error_count,
                               school_type, student_type)
