"""Students and placements (API.md). Roles are checked here; the rules (BSN,
one participation per student per department of a project and the forecasts
over them, mentor limits, leaving) live in the students service."""

import hashlib
import uuid

from werkzeug.wrappers import Response

from services.common.errors import error_item, forbidden, validation_error

from .. import schemas as s
from ..routing import route

ADMIN = ("admin",)
READERS = ("admin", "mentor")
# Who reads projects and departments: the helpdesk chooses a project to approve
# a list (naming the institution), the scheduler passes one to the connector.
PROJECT_READERS = (*READERS, "scheduler", "helpdesk")


def as_page(result):
    """Short lists (projects, departments, groups) come whole; answer them in
    the list shape of API.md all the same."""
    if isinstance(result, dict) and "items" in result:
        return result
    items = list(result or [])
    return {"items": items, "total": len(items), "page": 1, "page_size": max(len(items), 1)}


@route(
    "GET",
    "/students",
    roles=READERS,
    query=s.StudentListQuery,
    response=s.StudentPage,
    summary="List and search students (q: name, e-mail, student number or exact BSN)",
    tag="students",
)
def list_students(ctx):
    return ctx.call("students", "list_students", ctx.tenant, **ctx.query)


@route(
    "POST",
    "/students",
    roles=ADMIN,
    body=s.StudentCreate,
    response=s.Student,
    status=201,
    summary="Create a student: the user and the student record as one operation",
    tag="students",
    errors=(400, 401, 403, 409, 422),
)
def create_student(ctx):
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


@route(
    "GET",
    "/students/<student_number>",
    roles=READERS,
    query=s.RevealQuery,
    response=s.Student,
    summary="One student; BSN masked unless an admin asks ?reveal=bsn (audited)",
    tag="students",
)
def get_student(ctx, student_number):
    reveal = ctx.query.get("reveal") == "bsn"
    if reveal and not ctx.has_role("admin"):
        raise forbidden("Alleen een beheerder mag het BSN inzien.")
    return ctx.call(
        "students", "get_student", ctx.tenant, student_number, reveal_bsn=reveal, actor=ctx.actor
    )


@route(
    "PATCH",
    "/students/<student_number>",
    roles=ADMIN,
    body=s.StudentUpdate,
    response=s.Student,
    summary="Change a student's record or personal data",
    tag="students",
    errors=(400, 401, 403, 404, 409, 422),
)
def update_student(ctx, student_number):
    changes = dict(ctx.body)
    if changes.get("date_of_birth") is not None:
        changes["date_of_birth"] = changes["date_of_birth"].isoformat()
    return ctx.call("students", "update_student", ctx.tenant, student_number, changes, ctx.actor)


@route(
    "POST",
    "/students/<student_number>/leave",
    roles=ADMIN,
    body=s.LeaveRequest,
    response=s.LeaveResult,
    summary="A student leaves on a date: removes this and next "
    "year's participations and archives the user; a future date is planned and carried "
    "out on that day",
    tag="students",
    errors=(400, 401, 403, 404, 422),
)
def leave_student(ctx, student_number):
    day = ctx.body.get("date")
    return ctx.call(
        "students",
        "leave_student",
        ctx.tenant,
        student_number,
        date=day.isoformat() if day else None,
        actor=ctx.actor,
    )


@route(
    "DELETE",
    "/students/<student_number>/leave",
    roles=ADMIN,
    response=s.Student,
    summary="Withdraw a planned leave (a student who left already: restore the user)",
    tag="students",
    errors=(401, 403, 404, 409),
)
def cancel_leave(ctx, student_number):
    return ctx.call("students", "cancel_leave", ctx.tenant, student_number, actor=ctx.actor)


@route(
    "GET",
    "/students/<student_number>/participations",
    roles=READERS,
    query=s.PageQuery,
    response=s.StudentParticipationPage,
    summary="A student's participations in every project, newest school year first "
    "(one per department of a project)",
    tag="students",
    errors=(401, 403, 404),
)
def list_student_participations(ctx, student_number):
    q = ctx.query
    return ctx.call(
        "students",
        "list_student_participations",
        ctx.tenant,
        student_number,
        page=q["page"],
        page_size=q["page_size"],
    )


@route(
    "GET",
    "/audit/bsn",
    roles=ADMIN,
    query=s.AuditQuery,
    summary="The BSN audit trail: every reveal and change, who and when",
    tag="students",
)
def bsn_audit(ctx):
    q = ctx.query
    return ctx.call(
        "students",
        "bsn_audit",
        ctx.tenant,
        student_number=q["student_number"],
        page=q["page"],
        page_size=q["page_size"],
    )


# -- projects and departments ------------------------------------------------
@route(
    "GET",
    "/projects",
    roles=PROJECT_READERS,
    query=s.InstitutionScopeQuery,
    response=s.ProjectPage,
    summary="Schedule projects (helpdesk: of institution_id)",
    tag="placements",
)
def list_projects(ctx):
    return as_page(ctx.call("students", "list_projects", ctx.institution_id()))


@route(
    "POST",
    "/projects",
    roles=ADMIN,
    body=s.ProjectCreate,
    response=s.Project,
    status=201,
    summary="Create a schedule project (one school year and branch)",
    tag="placements",
    errors=(400, 401, 403, 409, 422),
)
def create_project(ctx):
    return ctx.call("students", "create_project", ctx.tenant, ctx.body)


@route(
    "GET",
    "/projects/<int:project_id>",
    roles=PROJECT_READERS,
    query=s.InstitutionScopeQuery,
    response=s.Project,
    summary="One schedule project",
    tag="placements",
)
def get_project(ctx, project_id):
    return ctx.call("students", "get_project", ctx.institution_id(), project_id)


@route(
    "GET",
    "/projects/<int:project_id>/departments",
    roles=PROJECT_READERS,
    query=s.InstitutionScopeQuery,
    response=s.DepartmentPage,
    summary="Departments of a project (with who leads their home classes)",
    tag="placements",
)
def list_departments(ctx, project_id):
    return as_page(ctx.call("students", "list_departments", ctx.institution_id(), project_id))


@route(
    "PATCH",
    "/projects/<int:project_id>/departments/<code>",
    roles=ADMIN,
    body=s.DepartmentUpdate,
    response=s.Department,
    summary="Change a department: who leads its home classes (from now on), year, education",
    tag="placements",
    errors=(400, 401, 403, 404, 422),
)
def update_department(ctx, project_id, code):
    return ctx.call("students", "update_department", ctx.tenant, project_id, code, ctx.body)


@route(
    "POST",
    "/projects/<int:project_id>/departments",
    roles=ADMIN,
    body=s.DepartmentCreate,
    response=s.Department,
    status=201,
    summary="Create a department",
    tag="placements",
    errors=(400, 401, 403, 404, 409, 422),
)
def create_department(ctx, project_id):
    return ctx.call("students", "create_department", ctx.tenant, project_id, ctx.body)


@route(
    "PUT",
    "/projects/<int:project_id>/departments/<code>/learning-paths",
    roles=ADMIN,
    body=s.LearningPaths,
    response=s.Department,
    summary="Set a department's learning paths and their element codes",
    tag="placements",
    errors=(400, 401, 403, 404, 422),
)
def set_learning_paths(ctx, project_id, code):
    return ctx.call(
        "students", "set_learning_paths", ctx.tenant, project_id, code, ctx.body["learning_paths"]
    )


@route(
    "GET",
    "/projects/<int:project_id>/placements.csv",
    roles=ADMIN,
    summary="Export student number, department, learning path and element code (CSV)",
    tag="placements",
)
def placements_csv(ctx, project_id):
    text = ctx.call("students", "placements_csv", ctx.tenant, project_id)
    return Response(
        text.encode("utf-8"),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="plaatsingen-{project_id}.csv"'},
    )


# -- participations and packages -----------------------------------------------
@route(
    "GET",
    "/projects/<int:project_id>/participations",
    roles=READERS,
    query=s.ParticipationQuery,
    response=s.ParticipationPage,
    summary="Participations of a project (?department=, ?student_number=, ?home_class=; "
    "?names=true adds the students' names)",
    tag="placements",
)
def list_participations(ctx, project_id):
    q = ctx.query
    return ctx.call(
        "students",
        "list_participations",
        ctx.tenant,
        project_id,
        department=q["department"],
        page=q["page"],
        page_size=q["page_size"],
        student_number=q["student_number"],
        home_class=q["home_class"],
        names=q["names"],
    )


@route(
    "POST",
    "/projects/<int:project_id>/participations",
    roles=ADMIN,
    body=s.ParticipationCreate,
    response=s.Participation,
    status=201,
    summary="Place a student in a department (one participation per student per "
    "department; with several in a project each needs a forecast, together at most 100)",
    tag="placements",
    errors=(400, 401, 403, 404, 409, 422),
)
def create_participation(ctx, project_id):
    return ctx.call("students", "create_participation", ctx.tenant, project_id, ctx.body, ctx.actor)


@route(
    "GET",
    "/participations/<int:participation_id>",
    roles=READERS,
    response=s.Participation,
    summary="One participation",
    tag="placements",
)
def get_participation(ctx, participation_id):
    return ctx.call("students", "get_participation", ctx.tenant, participation_id)


@route(
    "PATCH",
    "/participations/<int:participation_id>",
    roles=READERS,
    body=s.ParticipationUpdate,
    response=s.Participation,
    summary="Change a participation; a new department takes keep_package and drops the "
    "old department's group memberships (all of the project's when it is the student's "
    "only participation); forecasts over a student's departments stay at most 100; "
    "mentors change forecast and home class where the portal leads",
    tag="placements",
    errors=(400, 401, 403, 404, 409, 422),
)
def update_participation(ctx, participation_id):
    return ctx.call(
        "students", "update_participation", ctx.tenant, participation_id, ctx.body, ctx.actor
    )


@route(
    "DELETE",
    "/participations/<int:participation_id>",
    roles=ADMIN,
    status=204,
    summary="Remove a participation",
    tag="placements",
    errors=(401, 403, 404),
)
def delete_participation(ctx, participation_id):
    ctx.call("students", "delete_participation", ctx.tenant, participation_id, actor=ctx.actor)
    return Response(status=204)


@route(
    "GET",
    "/participations/<int:participation_id>/package",
    roles=READERS,
    response=s.Package,
    summary="A participation's subject package and exemptions",
    tag="placements",
)
def get_package(ctx, participation_id):
    return ctx.call("students", "get_package", ctx.tenant, participation_id)


@route(
    "PUT",
    "/participations/<int:participation_id>/package",
    roles=READERS,
    body=s.Package,
    response=s.Package,
    summary="Set the subject package and exemptions",
    tag="placements",
    errors=(400, 401, 403, 404, 422),
)
def set_package(ctx, participation_id):
    b = ctx.body
    return ctx.call(
        "students", "set_package", ctx.tenant, participation_id, b["subjects"], b["exemptions"]
    )


# -- groups ------------------------------------------------------------------
@route(
    "GET",
    "/projects/<int:project_id>/groups",
    roles=(*ADMIN, "scheduler"),
    response=s.GroupPage,
    summary="Groups (home classes and clusters) of a project",
    tag="placements",
)
def list_groups(ctx, project_id):
    return as_page(ctx.call("students", "list_groups", ctx.tenant, project_id))


@route(
    "POST",
    "/projects/<int:project_id>/groups",
    roles=ADMIN,
    body=s.GroupCreate,
    response=s.Group,
    status=201,
    summary="Create a group",
    tag="placements",
    errors=(400, 401, 403, 404, 409, 422),
)
def create_group(ctx, project_id):
    return ctx.call("students", "create_group", ctx.tenant, project_id, ctx.body)


@route(
    "PUT",
    "/groups/<int:group_id>/members",
    roles=("admin", "scheduler"),
    body=s.GroupMembers,
    response=s.Group,
    summary="Set a group's members",
    tag="placements",
    errors=(400, 401, 403, 404, 422),
)
def set_group_members(ctx, group_id):
    return ctx.call(
        "students",
        "set_group_members",
        ctx.tenant,
        group_id,
        ctx.body["student_numbers"],
        ctx.actor,
    )


# -- mentors -------------------------------------------------------------------
def mentor_self_or_admin(ctx, code):
    """An admin reads any mentor; a mentor only themselves."""
    if not ctx.has_role("admin") and ctx.actor["code"] != code:
        raise forbidden("Een mentor ziet alleen de eigen leerlingen.")


@route(
    "GET",
    "/mentors/<code>/classes",
    roles=("admin", "mentor"),
    response=s.MentorClasses,
    summary="The home classes a mentor looks after (admin; a mentor their own)",
    tag="placements",
)
def get_mentor_classes(ctx, code):
    mentor_self_or_admin(ctx, code)
    return ctx.call("students", "get_mentor_classes", ctx.tenant, code)


@route(
    "PUT",
    "/mentors/<code>/classes",
    roles=ADMIN,
    body=s.MentorClasses,
    response=s.MentorClasses,
    summary="Set the home classes a mentor looks after (the user "
    "needs the role mentor: 422 not_a_mentor)",
    tag="placements",
    errors=(400, 401, 403, 404, 422),
)
def set_mentor_classes(ctx, code):
    return ctx.call("students", "set_mentor_classes", ctx.tenant, code, ctx.body["home_classes"])


@route(
    "GET",
    "/mentors/<code>/students",
    roles=("admin", "mentor"),
    query=s.MentorStudentsQuery,
    response=s.MentorStudentPage,
    summary="A mentor's students (home class one of theirs, not left) with their "
    "participations in the project and what the mentor may change on each (admin; a "
    "mentor their own)",
    tag="placements",
)
def mentor_students(ctx, code):
    mentor_self_or_admin(ctx, code)
    q = ctx.query
    return ctx.call(
        "students",
        "mentor_students",
        ctx.tenant,
        code,
        project_id=q["project_id"],
        page=q["page"],
        page_size=q["page_size"],
    )
