"""zermelo-leerlinggegevens-wijzigen.txt: a student leaves school, changes
home class (portal or desktop leading)."""
import datetime as dt

from nameko.standalone.rpc import ServiceRpcProxy

from services.students.handlers import today
from tests.flows.conftest import API, NEXT_YEAR, THIS_YEAR, ok, problem


def _placed_twice(school, number, first, last):
    school.student(number, first, last)
    placed = {}
    for year in (THIS_YEAR, NEXT_YEAR):
        project = school.projects.get(year)
        if project is None:
            project = school.projects[year] = school.project_for(year, [("h4", 4, "portal")])
        placed[year] = school.place(project["id"], number, "h4", forecast=100)
    return placed


def numbers(school, year):
    return {p["student_number"] for p in school.participations(school.projects[year]["id"])}


def test_leerling_gaat_van_school_af_op_een_datum_in_het_verleden_en_in_de_toekomst(school):
    """Leaving removes this year's participation and next year's forecast and
    archives the user (the manual's three steps in one); a date in the future
    is kept as planned and carried out on that day."""
    api = school.api
    school.projects = {}
    _placed_twice(school, "1001", "Daan", "Berg")
    _placed_twice(school, "1002", "Eva", "Smit")
    _placed_twice(school, "1003", "Finn", "Jong")

    # left last week: carried out now, with the date given
    last_week = (today() - dt.timedelta(days=7)).isoformat()
    left = ok(api.post(f"{API}/students/1001/leave", token=school.admin,
                       json={"date": last_week}))
    assert (left["status"], left["leave_date"], left["archived"]) == ("left", last_week, True)
    assert len(left["removed_participations"]) == 2
    record = school.get("/students/1001")
    assert (record["status"], record["leave_date"], record["archived"]) == (
        "left", last_week, True)
    for year in (THIS_YEAR, NEXT_YEAR):
        assert "1001" not in numbers(school, year)
    problem(api.post(f"{API}/auth/token", json={"institution": "05KQ", "code": "1001",
                                                "password": "x"}), 401)

    # leaves at the end of next month: planned, nothing changes yet
    later = (today() + dt.timedelta(days=40)).isoformat()
    planned = ok(api.post(f"{API}/students/1002/leave", token=school.admin,
                          json={"date": later}))
    assert (planned["status"], planned["leave_date"], planned["archived"]) == (
        "leaving", later, False)
    assert school.get("/students/1002")["status"] == "leaving"
    assert "1002" in numbers(school, THIS_YEAR) and "1002" in numbers(school, NEXT_YEAR)
    assert school.get("/users/1002")["archived"] is False

    # the overview without students who left; a planned leave still shows
    current = school.get("/students?left=false")
    assert sorted(s["student_number"] for s in current["items"]) == ["1002", "1003"]
    assert [s["student_number"] for s in school.get("/students?left=true")["items"]] == \
        ["1001"]
    assert school.get("/students")["total"] == 3
    problem(api.get(f"{API}/students?left=misschien", token=school.admin), 422)

    # a planned leave can be withdrawn and set again; a date too far ahead is refused
    assert ok(api.delete(f"{API}/students/1003/leave", token=school.admin))["status"] == \
        "active"
    body = problem(api.post(f"{API}/students/1003/leave", token=school.admin,
                            json={"date": (today() + dt.timedelta(days=800)).isoformat()}),
                   422, "leave_date_too_late")
    assert body["errors"][0]["field"] == "date"
    problem(api.delete(f"{API}/students/1001/leave", token=school.admin), 409,
            "student_already_left")

    # the day comes (the students service's timer; here its RPC, as an operator runs it)
    with ServiceRpcProxy("students", school.api.config, timeout=30) as students:
        assert students.run_planned_leaves(as_of=later)["carried_out"] == ["1002"]
        assert students.run_planned_leaves(as_of=later)["carried_out"] == []
    record = school.get("/students/1002")
    assert (record["status"], record["leave_date"], record["archived"]) == (
        "left", later, True)
    assert "1002" not in numbers(school, NEXT_YEAR)
    assert [s["student_number"] for s in school.get("/students?left=false")["items"]] == \
        ["1003"]


def test_leerling_wijzigt_van_stamklas_waar_portal_of_desktop_leidend_is(school):
    """Where the portal leads, staff and mentors change a home class in the
    portal; where the desktop leads, the portal refuses it for every role and
    the scheduler uploads it. The authority can be changed later."""
    api = school.api
    project = school.project_for(THIS_YEAR, [("h4", 4, "portal"), ("v4", 4, "desktop")])
    pid = project["id"]
    departments = {d["code"]: d for d in school.get(f"/projects/{pid}/departments")["items"]}
    assert departments["v4"]["home_class_authority"] == "desktop"
    school.student("2001", "Iris", "Oud")
    school.student("2002", "Joep", "Wit")
    h4 = school.place(pid, "2001", "h4", home_class="h4a")
    v4 = school.place(pid, "2002", "v4")
    # portal leads h4: the mentor changes the home class
    changed = ok(api.patch(f"{API}/participations/{h4['id']}", token=school.mentor,
                           json={"home_class": "h4b"}))
    assert changed["home_class"] == "h4b"
    # the desktop leads v4: refused for mentor and admin alike, naming the department
    for token in (school.mentor, school.admin):
        body = problem(api.patch(f"{API}/participations/{v4['id']}", token=token,
                                 json={"home_class": "v4a"}), 409, "home_class_desktop_led")
        assert "v4" in body["detail"]
    # ... the scheduler uploads the desktop's home classes (Groepsindelingen uploaden)
    group = school.post(f"/projects/{pid}/groups", {"code": "v4a", "department": "v4",
                                                    "kind": "home_class"})
    problem(api.put(f"{API}/groups/{group['id']}/members", token=school.admin,
                    json={"student_numbers": ["2002"]}), 409, "home_class_desktop_led")
    ok(api.put(f"{API}/groups/{group['id']}/members", token=school.scheduler,
               json={"student_numbers": ["2002"]}))
    assert school.get(f"/participations/{v4['id']}")["home_class"] == "v4a"
    # the school decides the portal leads v4 from now on
    problem(api.patch(f"{API}/projects/{pid}/departments/v4", token=school.mentor,
                      json={"home_class_authority": "portal"}), 403)
    dept = ok(api.patch(f"{API}/projects/{pid}/departments/v4", token=school.admin,
                        json={"home_class_authority": "portal"}))
    assert dept["home_class_authority"] == "portal"
    assert ok(api.patch(f"{API}/participations/{v4['id']}", token=school.mentor,
                        json={"home_class": "v4b"}))["home_class"] == "v4b"
    problem(api.patch(f"{API}/projects/{pid}/departments/v4", token=school.admin,
                      json={"home_class_authority": "beide"}), 422)
    problem(api.patch(f"{API}/projects/{pid}/departments/x9", token=school.admin,
                      json={"home_class_authority": "portal"}), 404)


def test_projecten_zijn_zichtbaar_voor_wie_ze_nodig_heeft(school):
    """The helpdesk picks a project to approve a list (naming the school); the
    scheduler picks one for the connector; students see none."""
    api = school.api
    project = school.project_for(THIS_YEAR, [("h4", 4, "portal")])
    iid = school.institution["id"]
    helpdesk = api.token
    listed = ok(api.get(f"{API}/projects?institution_id={iid}", token=helpdesk))
    assert [p["id"] for p in listed["items"]] == [project["id"]]
    problem(api.get(f"{API}/projects", token=helpdesk), 422, "institution_id_required")
    assert ok(api.get(f"{API}/projects/{project['id']}/departments?institution_id={iid}",
                      token=helpdesk))["items"][0]["code"] == "h4"
    mine = ok(api.get(f"{API}/projects", token=school.scheduler))
    assert [p["id"] for p in mine["items"]] == [project["id"]]
    other = school.__class__(api, brin="06AB", name="Ander College")
    problem(api.get(f"{API}/projects/{project['id']}", token=other.scheduler), 404)
    problem(api.get(f"{API}/projects?institution_id={iid}", token=other.admin), 404)
    school.student("3001", "Kim", "Laan")
    ok(api.patch(f"{API}/users/3001", token=school.admin, json={"password": "Kim-wachtwoord-1"}))
    student = api.login("05KQ", "3001", "Kim-wachtwoord-1")
    problem(api.get(f"{API}/projects", token=student), 403)
