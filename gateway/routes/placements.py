"""Placements (API.md): projects, departments, participations and packages,
groups, mentors. Roles are checked here; the rules (one participation per
student per department of a project and the forecasts over them, mentor
limits) live in the students service."""

from werkzeug.wrappers import Response

from services.common.errors import forbidden

from .. import schemas_students as s
from ..routing import route
from ..schemas import InstitutionScopeQuery

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


# -- projects and departments ------------------------------------------------
@route(
    "GET",
    "/projects",
    roles=PROJECT_READERS,
    query=InstitutionScopeQuery,
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
    query=InstitutionScopeQuery,
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
    query=InstitutionScopeQuery,
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
