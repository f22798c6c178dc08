"""zermelo-leerlingen-synchroniseren.txt, end to end over HTTP: Prognoses (a
student with next year's forecasts in two departments, from the portal to the
desktop through the connector), Pakketkeuzes (the tip: a download leaves
departments without package choices in the portal alone) and
Groepsindelingen (home classes of a student in two departments)."""
import copy
import csv
import io

from services.sync import client
from tests.flows.conftest import API, ok, problem


def next_year_project(school, departments):
    project = school.post("/projects", {"name": "Rooster 2026-2027", "school_year": "2026-2027",
                                        "branch": "Hoofdvestiging"})
    for code, year, authority in departments:
        school.post(f"/projects/{project['id']}/departments", {
            "code": code, "year_of_education": year, "education": code[0],
            "home_class_authority": authority})
    return project


def by_key(items):
    return {(i["student_number"], i["department"]): i for i in items}


def test_prognoses_in_twee_afdelingen_downloaden_naar_de_desktop(system, school):
    project = next_year_project(school, [("h4", 4, "portal"), ("v4", 4, "desktop"),
                                         ("m4", 4, "portal")])
    pid = project["id"]
    school.student("3001", "Sara", "Dijk", home_class="3h1")
    school.student("3002", "Tom", "Veen", home_class="3h2")
    h4 = school.place(pid, "3001", "h4", forecast=60, profile="NT")
    v4 = school.place(pid, "3001", "v4", forecast=40)
    school.place(pid, "3002", "h4", forecast=100)

    # a third participation: the same department again, or one that makes it over 100
    problem(school.api.post(f"{API}/projects/{pid}/participations", token=school.admin,
                            json={"student_number": "3001", "department": "h4",
                                  "forecast": 0}), 409, "participation_exists")
    body = problem(school.api.post(f"{API}/projects/{pid}/participations", token=school.admin,
                                   json={"student_number": "3001", "department": "m4",
                                         "forecast": 10}), 422, "forecast_total_exceeded")
    assert "110%" in body["detail"] and body["errors"][0]["field"] == "forecast"
    problem(school.api.post(f"{API}/projects/{pid}/participations", token=school.admin,
                            json={"student_number": "3001", "department": "m4"}),
            422, "forecast_required")
    # the sum over 100 by a change of a forecast
    body = problem(school.api.patch(f"{API}/participations/{v4['id']}", token=school.admin,
                                    json={"forecast": 50}), 422, "forecast_total_exceeded")
    assert "h4 60%" in body["detail"] and "v4 50%" in body["detail"]
    listed = ok(school.api.get(f"{API}/students/3001/participations", token=school.admin))
    assert [(p["department"], p["forecast"]) for p in listed["items"]] == [("h4", 60),
                                                                           ("v4", 40)]

    # the desktop has the student only in h4, at 100%
    desktop = {
        "students": [{"student_number": "3001", "first_name": "Sara", "last_name": "Dijk",
                      "initials": "S.", "previous_home_class": "3h1"},
                     {"student_number": "3002", "first_name": "Tom", "last_name": "Veen",
                      "initials": "T.", "previous_home_class": "3h2"}],
        "participations": [{"student_number": "3001", "department": "h4", "forecast": 100,
                            "lwoo": False, "home_class": None, "profile": "NT"},
                           {"student_number": "3002", "department": "h4", "forecast": 100}],
    }
    pushed = ok(school.sync("PUT", pid, "snapshot", json=desktop))
    assert pushed["counts"]["participations"] == 2
    status = ok(school.sync("GET", pid, "status"))
    assert status["participations"]["status"] == "differences"
    assert status["forecasts"]["status"] == "differences"
    assert status["participations"]["differences"] == 1 and status["forecasts"]["differences"] \
        == 1
    for category in ("students", "personal_data", "lwoo", "home_classes", "packages"):
        assert status[category]["status"] == "ok", (category, status[category])

    forecasts = ok(school.sync("GET", pid, "differences/forecasts"))
    items = by_key(forecasts["items"])
    assert set(items) == {("3001", "h4"), ("3001", "v4")}
    assert items[("3001", "h4")]["fields"] == {"forecast": {"P": 60, "D": 100}}
    assert items[("3001", "v4")]["fields"] == {"forecast": {"P": 40, "D": None}}
    assert items[("3001", "v4")]["in_desktop"] is False
    depts = {d["code"]: d["differences"] for d in forecasts["departments"]}
    assert depts["h4"] == 1 and depts["v4"] == 1 and depts["m4"] == 0
    only_v4 = ok(school.sync("GET", pid, "differences/forecasts?department=v4"))
    assert [(i["student_number"], i["department"]) for i in only_v4["items"]] == [("3001",
                                                                                   "v4")]
    parts = ok(school.sync("GET", pid, "differences/participations"))
    (item,) = parts["items"]
    assert (item["department"], item["fields"]) == ("v4", {"department": {"P": "v4",
                                                                          "D": None}})
    assert item["student_departments"] == {"P": ["h4", "v4"], "D": ["h4"]}

    # the desktop takes over the participations, then the forecasts
    result = ok(school.sync("POST", pid, "download/participations", json={}))
    assert result["changes"] == [{"student_number": "3001", "department": "v4",
                                  "action": "set", "values": {
                                      "department": "v4", "profile": None,
                                      "programme": None}}]
    assert result["status"]["status"] == "ok" and result["skipped"] == []
    applied = client.apply_changes(copy.deepcopy(desktop), "participations", result["changes"])
    result = ok(school.sync("POST", pid, "download/forecasts", json={}))
    assert sorted((c["department"], c["values"]["forecast"]) for c in result["changes"]) == [
        ("h4", 60), ("v4", 40)]
    applied = client.apply_changes(applied, "forecasts", result["changes"])
    again = ok(school.sync("GET", pid, "status"))
    for category in ("participations", "forecasts", "lwoo", "home_classes", "students"):
        assert again[category]["status"] == "ok", (category, again[category])
    stored = ok(school.sync("GET", pid, "snapshot"))["snapshot"]
    assert [(p["student_number"], p["department"], p["forecast"])
            for p in stored["participations"]] == [("3001", "h4", 60), ("3001", "v4", 40),
                                                   ("3002", "h4", 100)]
    # the desktop that applied the changes pushes its project again: still ok
    repushed = ok(school.sync("PUT", pid, "snapshot", json=applied))["status"]
    assert repushed["participations"]["status"] == "ok"
    assert repushed["forecasts"]["status"] == "ok"

    # a change in the portal shows per department after a refresh
    ok(school.api.patch(f"{API}/participations/{h4['id']}", token=school.admin,
                        json={"forecast": 50}))
    refreshed = ok(school.sync("GET", pid, "status?refresh=true"))
    assert refreshed["forecasts"]["differences"] == 1
    diffs = ok(school.sync("GET", pid, "differences/forecasts"))["items"]
    assert [(i["department"], i["fields"]) for i in diffs] == [
        ("h4", {"forecast": {"P": 50, "D": 60}})]

    # the export for the administration: one row per participation
    r = school.api.get(f"{API}/projects/{pid}/placements.csv", token=school.admin)
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.text), delimiter=";"))
    assert rows == [["leerlingnummer", "afdeling", "leerpad", "elementcode"],
                    ["3001", "h4", "", ""], ["3001", "v4", "", ""], ["3002", "h4", "", ""]]


def test_pakketkeuzes_downloaden_laat_afdelingen_zonder_keuzes_in_het_portal_met_rust(
        system, school):
    project = next_year_project(school, [("h4", 4, "portal"), ("v6", 6, "portal")])
    pid = project["id"]
    for number, first in (("4001", "Anna"), ("4002", "Bram"), ("4003", "Cas")):
        school.student(number, first, "Test")
    a = school.place(pid, "4001", "h4")
    school.place(pid, "4002", "v6")
    school.package(a["id"], ["ne", "en", "wi"], ["lo"])
    # the desktop keeps last year's packages of v6 (no choices in the portal this year)
    desktop = {
        "students": [{"student_number": n, "first_name": f, "last_name": "Test",
                      "initials": f[0] + "."}
                     for n, f in (("4001", "Anna"), ("4002", "Bram"))],
        "participations": [{"student_number": "4001", "department": "h4"},
                           {"student_number": "4002", "department": "v6"}],
        "packages": [{"student_number": "4001", "department": "h4", "subjects": ["ne"]},
                     {"student_number": "4002", "department": "v6",
                      "subjects": ["ne", "en", "wi", "na"], "exemptions": ["ckv"]}],
    }
    ok(school.sync("PUT", pid, "snapshot", json=desktop))
    status = ok(school.sync("GET", pid, "status"))["packages"]
    assert (status["differences"], status["download"], status["exemptions"]) == (1, 1, 1)
    diffs = ok(school.sync("GET", pid, "differences/packages"))
    assert [i["student_number"] for i in diffs["items"]] == ["4001"]
    rows = {d["code"]: d for d in diffs["departments"]}
    assert rows["v6"]["packages_in_portal"] is False and rows["v6"]["left_alone"] == 1
    assert "v6" in rows["v6"]["note"] and "geen pakketkeuzes" in rows["v6"]["note"]
    assert rows["h4"]["packages_in_portal"] is True

    # v6 selected all the same: skipped, said so, and the desktop's packages stay
    result = ok(school.sync("POST", pid, "download/packages",
                            json={"departments": ["h4", "v6"]}))
    assert result["changes"] == [{"student_number": "4001", "department": "h4",
                                  "action": "set", "values": {
                                      "subjects": ["ne", "en", "wi"], "exemptions": ["lo"]}}]
    (skipped,) = result["skipped"]
    assert (skipped["department"], skipped["code"], skipped["students"]) == (
        "v6", "no_packages_in_portal", 1)
    assert "blijven staan" in skipped["message"]
    assert result["status"]["status"] == "ok"
    only_v6 = ok(school.sync("POST", pid, "download/packages", json={"departments": ["v6"]}))
    assert only_v6["changes"] == [] and only_v6["skipped"][0]["department"] == "v6"
    stored = ok(school.sync("GET", pid, "snapshot"))["snapshot"]["packages"]
    kept = {p["student_number"]: p for p in stored}["4002"]
    assert (kept["department"], kept["subjects"], kept["exemptions"]) == (
        "v6", ["ne", "en", "wi", "na"], ["ckv"])
    assert ok(school.sync("GET", pid, "status"))["packages"]["status"] == "ok"

    # once the portal holds choices in v6, the department is compared like any other
    c = school.place(pid, "4003", "v6")
    school.package(c["id"], ["ne"])
    refreshed = ok(school.sync("GET", pid, "status?refresh=true"))["packages"]
    assert refreshed["differences"] == 1   # 4002: the portal has no choice for this student
    rows = {d["code"]: d for d in ok(school.sync("GET", pid,
                                                 "differences/packages"))["departments"]}
    assert rows["v6"]["packages_in_portal"] is True and "note" not in rows["v6"]


def test_stamklasindeling_van_een_leerling_in_twee_afdelingen(system, school):
    """h4: the portal leads; v4: the desktop leads. One student, one home class
    in each department: each moves its own way, and selecting the student moves
    what may move in the direction asked."""
    project = next_year_project(school, [("h4", 4, "portal"), ("v4", 4, "desktop")])
    pid = project["id"]
    school.student("3001", "Sara", "Dijk")
    school.place(pid, "3001", "h4", forecast=60, home_class="h4a")
    v4 = school.place(pid, "3001", "v4", forecast=40)
    school.group(pid, "h4a", "h4", "home_class", ["3001"])
    desktop = {
        "students": [{"student_number": "3001", "first_name": "Sara", "last_name": "Dijk",
                      "initials": "S."}],
        "participations": [
            {"student_number": "3001", "department": "h4", "forecast": 60},
            {"student_number": "3001", "department": "v4", "forecast": 40,
             "home_class": "v4b"}],
        "groups": [{"code": "v4b", "department": "v4", "kind": "home_class",
                    "student_numbers": ["3001"]}],
    }
    ok(school.sync("PUT", pid, "snapshot", json=desktop))
    status = ok(school.sync("GET", pid, "status"))["home_classes"]
    assert (status["differences"], status["download"], status["upload"]) == (1, 1, 1)
    problem(school.sync("POST", pid, "download/home_classes", json={"departments": ["v4"]}),
            409, "wrong_direction")
    down = ok(school.sync("POST", pid, "download/home_classes",
                          json={"student_numbers": ["3001"]}))
    assert down["changes"] == [{"student_number": "3001", "department": "h4", "action": "set",
                                "values": {"home_class": "h4a"}}]
    up = ok(school.sync("POST", pid, "upload/home_classes", json={"student_numbers": ["3001"]}))
    assert up["applied"] == [{"student_number": "3001", "action": "set", "department": "v4",
                              "values": {"home_class": "v4b"}}]
    assert up["status"]["status"] == "ok"
    groups = {g["code"]: g["student_numbers"] for g in ok(school.api.get(
        f"{API}/projects/{pid}/groups", token=school.admin))["items"]}
    assert groups == {"h4a": ["3001"], "v4b": ["3001"]}   # one home class per department
    assert ok(school.api.get(f"{API}/participations/{v4['id']}",
                             token=school.admin))["home_class"] == "v4b"
    # upload of groups: the v4 home-class group counts the student's v4 participation
    assert ok(school.sync("POST", pid, "upload/groups", json={}))["skipped"] == []
