"""Students. Roles are checked here; the rules (BSN, leaving) live in
the students service. Placements are in routes/placements.py."""

import hashlib
import uuid

from services.common.errors import error_item, forbidden, validation_error

from .. import schemas_students as s
from ..routing import WRITE, Routes
from ..schemas import PageQuery

ADMIN = ("admin",)

api = Routes("students", roles=ADMIN)
READERS = ("admin", "mentor")


@api.get("/students", roles=READERS, query=s.StudentListQuery, response=s.StudentPage)
def list_students(ctx):
    """List and search students (q: name, e-mail, student number or exact BSN)"""
    return ctx.call("students", "list_students", ctx.tenant, **ctx.query)


@api.create("/students", body=s.StudentCreate, response=s.Student)
def create_student(ctx):
    """Create a student: the user and the student record as one operation"""
    data = dict(ctx.body)
    if data.get("date_of_birth") is not None:
        data["date_of_birth"] = data["date_of_birth"].isoformat()
    return ctx.call(
        "students", "create_student", ctx.tenant, data, ctx.actor, request_id=request_id(ctx)
    )


def request_id(ctx):
    """The id that makes a create resumable: the caller's Idempotency-Key
    (scoped to the caller: a retry with the same key answers as the first
    request did), else a fresh one per HTTP request (an RPC redelivered after a
    crash of the students service still resumes rather than refuses)."""
    key = ctx.request.headers.get("Idempotency-Key")
    if key is None:
        return "gw-" + uuid.uuid4().hex
    key = key.strip()
    if not (0 < len(key) <= 200 and key.isascii() and key.isprintable()):
        message = "De Idempotency-Key is ongeldig: gebruik 1 tot 200 gewone tekens."
        raise validation_error(
            [error_item("idempotency_key_invalid", message, field="Idempotency-Key")]
        )
    caller = f"{ctx.tenant}:{ctx.actor['user_id']}:{key}"
    return "key-" + hashlib.sha256(caller.encode()).hexdigest()[:40]


@api.get("/students/<student_number>", roles=READERS, query=s.RevealQuery, response=s.Student)
def get_student(ctx, student_number):
    """One student; BSN masked unless an admin asks ?reveal=bsn (audited)"""
    reveal = ctx.query.get("reveal") == "bsn"
    if reveal and not ctx.has_role("admin"):
        raise forbidden("Alleen een beheerder mag het BSN inzien.")
    return ctx.call(
        "students", "get_student", ctx.tenant, student_number, reveal_bsn=reveal, actor=ctx.actor
    )


@api.patch("/students/<student_number>", body=s.StudentUpdate, response=s.Student, errors=WRITE)
def update_student(ctx, student_number):
    """Change a student's record or personal data"""
    changes = dict(ctx.body)
    if changes.get("date_of_birth") is not None:
        changes["date_of_birth"] = changes["date_of_birth"].isoformat()
    return ctx.call("students", "update_student", ctx.tenant, student_number, changes, ctx.actor)


@api.post("/students/<student_number>/leave", body=s.LeaveRequest, response=s.LeaveResult)
def leave_student(ctx, student_number):
    """A student leaves on a date: removes this and next year's participations and archives the
    user; a future date is planned and carried out on that day"""
    day = ctx.body.get("date")
    return ctx.call(
        "students",
        "leave_student",
        ctx.tenant,
        student_number,
        date=day.isoformat() if day else None,
        actor=ctx.actor,
    )


@api.delete("/students/<student_number>/leave", response=s.Student, errors=(401, 403, 404, 409))
def cancel_leave(ctx, student_number):
    """Withdraw a planned leave (a student who left already: restore the user)"""
    return ctx.call("students", "cancel_leave", ctx.tenant, student_number, actor=ctx.actor)


@api.get(
    "/students/<student_number>/participations",
    roles=READERS,
    query=PageQuery,
    response=s.StudentParticipationPage,
    errors=(401, 403, 404),
)
def list_student_participations(ctx, student_number):
    """A student's participations in every project, newest school year first (one per department
    of a project)"""
    return ctx.call(
        "students", "list_student_participations", ctx.tenant, student_number, **ctx.options
    )


@api.get("/audit/bsn", query=s.AuditQuery)
def bsn_audit(ctx):
    """The BSN audit trail: every reveal and change, who and when"""
    return ctx.call("students", "bsn_audit", ctx.tenant, **ctx.options)
