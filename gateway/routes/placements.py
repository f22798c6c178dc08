"""Placements: projects, departments, participations and packages,
groups, mentors. Roles are checked here; the rules (one participation per
student per department of a project and the forecasts over them, mentor
limits) live in the students service."""

from werkzeug.wrappers import Response

from services.common.errors import forbidden

from .. import schemas_students as s
from ..routing import WRITE, Routes
from ..schemas import InstitutionScopeQuery

ADMIN = ("admin",)

api = Routes("placements", roles=ADMIN)
READERS = ("admin", "mentor")
# Who reads projects and departments: the helpdesk chooses a project to approve
# a list (naming the institution), the scheduler passes one to the connector.
PROJECT_READERS = (*READERS, "scheduler", "helpdesk")


def as_page(result):
    """Short lists (projects, departments, groups) come whole; answer them in
    the API's list shape all the same."""
    if isinstance(result, dict) and "items" in result:
        return result
    items = list(result or [])
    return {"items": items, "total": len(items), "page": 1, "page_size": max(len(items), 1)}


# -- projects and departments ------------------------------------------------
@api.get("/projects", roles=PROJECT_READERS, query=InstitutionScopeQuery, response=s.ProjectPage)
def list_projects(ctx):
    """Schedule projects (helpdesk: of institution_id)"""
    return as_page(ctx.call("students", "list_projects", ctx.institution_id()))


@api.create("/projects", body=s.ProjectCreate, response=s.Project)
def create_project(ctx):
    """Create a schedule project (one school year and branch)"""
    return ctx.call("students", "create_project", ctx.tenant, ctx.body)


@api.get(
    "/projects/<int:project_id>",
    roles=PROJECT_READERS,
    query=InstitutionScopeQuery,
    response=s.Project,
)
def get_project(ctx, project_id):
    """One schedule project"""
    return ctx.call("students", "get_project", ctx.institution_id(), project_id)


@api.get(
    "/projects/<int:project_id>/departments",
    roles=PROJECT_READERS,
    query=InstitutionScopeQuery,
    response=s.DepartmentPage,
)
def list_departments(ctx, project_id):
    """Departments of a project (with who leads their home classes)"""
    return as_page(ctx.call("students", "list_departments", ctx.institution_id(), project_id))


@api.patch(
    "/projects/<int:project_id>/departments/<code>", body=s.DepartmentUpdate, response=s.Department
)
def update_department(ctx, project_id, code):
    """Change a department: who leads its home classes (from now on), year, education"""
    return ctx.call("students", "update_department", ctx.tenant, project_id, code, ctx.body)


@api.create(
    "/projects/<int:project_id>/departments", body=s.DepartmentCreate, response=s.Department
)
def create_department(ctx, project_id):
    """Create a department"""
    return ctx.call("students", "create_department", ctx.tenant, project_id, ctx.body)


@api.put(
    "/projects/<int:project_id>/departments/<code>/learning-paths",
    body=s.LearningPaths,
    response=s.Department,
)
def set_learning_paths(ctx, project_id, code):
    """Set a department's learning paths and their element codes"""
    return ctx.call(
        "students", "set_learning_paths", ctx.tenant, project_id, code, ctx.body["learning_paths"]
    )


@api.get("/projects/<int:project_id>/placements.csv")
def placements_csv(ctx, project_id):
    """Export student number, department, learning path and element code (CSV)"""
    text = ctx.call("students", "placements_csv", ctx.tenant, project_id)
    return Response(
        text.encode("utf-8"),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="plaatsingen-{project_id}.csv"'},
    )


# -- participations and packages -----------------------------------------------
@api.get(
    "/projects/<int:project_id>/participations",
    roles=READERS,
    query=s.ParticipationQuery,
    response=s.ParticipationPage,
)
def list_participations(ctx, project_id):
    """Participations of a project (?department=, ?student_number=, ?home_class=; ?names=true
    adds the students' names)"""
    return ctx.call("students", "list_participations", ctx.tenant, project_id, **ctx.options)


@api.create(
    "/projects/<int:project_id>/participations",
    body=s.ParticipationCreate,
    response=s.Participation,
)
def create_participation(ctx, project_id):
    """Place a student in a department (one participation per student per department; with
    several in a project each needs a forecast, together at most 100)"""
    return ctx.call("students", "create_participation", ctx.tenant, project_id, ctx.body, ctx.actor)


@api.get("/participations/<int:participation_id>", roles=READERS, response=s.Participation)
def get_participation(ctx, participation_id):
    """One participation"""
    return ctx.call("students", "get_participation", ctx.tenant, participation_id)


@api.patch(
    "/participations/<int:participation_id>",
    roles=READERS,
    body=s.ParticipationUpdate,
    response=s.Participation,
    errors=WRITE,
)
def update_participation(ctx, participation_id):
    """Change a participation; a new department takes keep_package and drops the old
    department's group memberships (all of the project's when it is the student's only
    participation); forecasts over a student's departments stay at most 100; mentors change
    forecast and home class where the portal leads"""
    return ctx.call(
        "students", "update_participation", ctx.tenant, participation_id, ctx.body, ctx.actor
    )


@api.delete("/participations/<int:participation_id>", status=204, errors=(401, 403, 404))
def delete_participation(ctx, participation_id):
    """Remove a participation"""
    ctx.call("students", "delete_participation", ctx.tenant, participation_id, actor=ctx.actor)
    return Response(status=204)


@api.get("/participations/<int:participation_id>/package", roles=READERS, response=s.Package)
def get_package(ctx, participation_id):
    """A participation's subject package and exemptions"""
    return ctx.call("students", "get_package", ctx.tenant, participation_id)


@api.put(
    "/participations/<int:participation_id>/package",
    roles=READERS,
    body=s.Package,
    response=s.Package,
)
def set_package(ctx, participation_id):
    """Set the subject package and exemptions"""
    b = ctx.body
    return ctx.call(
        "students", "set_package", ctx.tenant, participation_id, b["subjects"], b["exemptions"]
    )


# -- groups ------------------------------------------------------------------
@api.get("/projects/<int:project_id>/groups", roles=(*ADMIN, "scheduler"), response=s.GroupPage)
def list_groups(ctx, project_id):
    """Groups (home classes and clusters) of a project"""
    return as_page(ctx.call("students", "list_groups", ctx.tenant, project_id))


@api.create("/projects/<int:project_id>/groups", body=s.GroupCreate, response=s.Group)
def create_group(ctx, project_id):
    """Create a group"""
    return ctx.call("students", "create_group", ctx.tenant, project_id, ctx.body)


@api.put(
    "/groups/<int:group_id>/members",
    roles=("admin", "scheduler"),
    body=s.GroupMembers,
    response=s.Group,
)
def set_group_members(ctx, group_id):
    """Set a group's members"""
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


@api.get("/mentors/<code>/classes", roles=("admin", "mentor"), response=s.MentorClasses)
def get_mentor_classes(ctx, code):
    """The home classes a mentor looks after (admin; a mentor their own)"""
    mentor_self_or_admin(ctx, code)
    return ctx.call("students", "get_mentor_classes", ctx.tenant, code)


@api.put("/mentors/<code>/classes", body=s.MentorClasses, response=s.MentorClasses)
def set_mentor_classes(ctx, code):
    """Set the home classes a mentor looks after (the user needs the role mentor: 422
    not_a_mentor)"""
    return ctx.call("students", "set_mentor_classes", ctx.tenant, code, ctx.body["home_classes"])


@api.get(
    "/mentors/<code>/students",
    roles=("admin", "mentor"),
    query=s.MentorStudentsQuery,
    response=s.MentorStudentPage,
)
def mentor_students(ctx, code):
    """A mentor's students (home class one of theirs, not left) with their participations in the
    project and what the mentor may change on each (admin; a mentor their own)"""
    mentor_self_or_admin(ctx, code)
    return ctx.call("students", "mentor_students", ctx.tenant, code, **ctx.options)
