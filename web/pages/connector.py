"""The portal connector as the scheduler reads it (docs/web.md: Connector, One
category; the Zermelo manual "Leerlingen synchroniseren"): per category the
status, the number of differences ("[n]" exemptions for packages) and when
the desktop last sent its snapshot; per category the differences per student
and field, P (portal) and D (desktop) side by side, with a department filter.

These pages read: the desktop client stays the one that downloads and
uploads. They show what the desktop will do."""
from services.common.fields import FIELDS

from ..app import PageError, page
from ..client import ApiError

READERS = ("scheduler", "admin")
PAGE_SIZE = 50
# (slug in the URL, the API's category, the manual's name)
CATEGORIES = [
    ("leerlingen", "students", "Leerlingen"),
    ("persoonsgegevens", "personal_data", "Persoonsgegevens"),
    ("afdelingsdeelnames", "participations", "Afdelingsdeelnames"),
    ("lwoo", "lwoo", "LWOO"),
    ("stamklasindelingen", "home_classes", "Stamklasindelingen"),
    ("prognoses", "forecasts", "Prognoses"),
    ("pakketten", "packages", "Pakketten"),
    ("groepsindelingen", "groups", "Groepsindelingen"),
]
BY_SLUG = {slug: (api, name) for slug, api, name in CATEGORIES}
FIELD_NAMES = {
    **{name: rule.label for name, rule in FIELDS.items()},
    "previous_home_class": "Stamklas oud", "subjects": "Vakken", "exemptions": "Vrijstellingen",
    "groups": "Groepen", "student": "Leerling",
}
ACTIONS = {"add": "Naar de desktop (nieuw)", "remove": "Uit de desktop",
           "create": "Naar het portal (nieuw account)"}
DIRECTIONS = {"download": "naar desktop", "upload": "naar portal"}


def _projects(ctx):
    result = ctx.get("/projects")
    return result.get("items", []) if isinstance(result, dict) else list(result or [])


def _chosen(ctx, projects):
    """The project in ?project=, else the newest school year's."""
    wanted = ctx.query("project")
    for p in projects:
        if str(p["id"]) == wanted:
            return p
    ordered = sorted(projects, key=lambda p: (p["school_year"], p["id"]), reverse=True)
    return ordered[0] if ordered else None


def _status(ctx, project, refresh=False):
    """The status, or None when the desktop sent nothing yet for this project."""
    try:
        return ctx.get(f"/sync/{project['id']}/status",
                       params={"refresh": "true"} if refresh else None)
    except ApiError as exc:
        if exc.status == 409 and exc.code == "snapshot_required":
            return None
        raise


@page("GET", "/portalconnector", roles=READERS)
def overview(ctx):
    projects = _projects(ctx)
    project = _chosen(ctx, projects)
    status = _status(ctx, project, refresh=ctx.query("verversen") == "1") if project else None
    rows = []
    if status:
        for slug, api, name in CATEGORIES:
            rows.append({"slug": slug, "name": name, **(status.get(api) or {})})
    return ctx.render("connector/overview.html", title="Portalconnector", projects=projects,
                      project=project, sync=status, rows=rows)


def _value(field, value):
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "—"
    if field == "forecast":
        return f"{value}%"
    return str(value)


def difference_rows(items):
    """One row per student and field: P and D side by side (the manual's
    purple cells)."""
    rows = []
    for item in items:
        fields = item.get("fields") or {}
        base = {"student_number": item.get("student_number"), "name": item.get("name") or "",
                "department": item.get("department") or "",
                "direction": DIRECTIONS.get(item.get("direction"), ""),
                "authority": item.get("home_class_authority"),
                "in_desktop": item.get("in_desktop", True),
                "action": ACTIONS.get(item.get("action"), "")}
        if not fields:
            rows.append({**base, "field": "", "p": "", "d": ""})
            continue
        for field, pair in fields.items():
            pair = pair if isinstance(pair, dict) else {}
            rows.append({**base, "field": FIELD_NAMES.get(field, field),
                         "p": _value(field, pair.get("P")), "d": _value(field, pair.get("D")),
                         "exemptions_differ": item.get("exemptions_differ")
                         and field == "exemptions"})
    return rows


@page("GET", "/portalconnector/<slug>", roles=READERS)
def category(ctx, slug):
    if slug not in BY_SLUG:
        raise PageError(404, "Niet gevonden", "Deze categorie bestaat niet in de "
                                              "portalconnector.")
    api_category, name = BY_SLUG[slug]
    projects = _projects(ctx)
    project = _chosen(ctx, projects)
    if project is None:
        raise PageError(404, "Geen project", "Er is nog geen roosterproject.")
    department = ctx.query("afdeling")
    params = {"department": department} if department else None
    try:
        result = ctx.get(f"/sync/{project['id']}/differences/{api_category}", params=params)
    except ApiError as exc:
        if exc.status == 409 and exc.code == "snapshot_required":
            result = None
        elif exc.status in (400, 422) and department:
            ctx.flash(exc.detail, "error")
            return ctx.redirect(f"/portalconnector/{slug}?project={project['id']}")
        else:
            raise
    rows = difference_rows(result.get("items") or []) if result else []
    page_no = ctx.int_query("pagina")
    shown = {"items": rows[(page_no - 1) * PAGE_SIZE:page_no * PAGE_SIZE], "total": len(rows),
             "page": page_no, "page_size": PAGE_SIZE}
    return ctx.render("connector/category.html", title=f"Portalconnector: {name}",
                      projects=projects, project=project, slug=slug, name=name,
                      category=api_category, result=result, rows=shown, department=department,
                      categories=CATEGORIES)
