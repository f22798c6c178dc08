"""The portal connector through the gateway, against the running services."""
from tests.helpers import wait_until
from tests.sync.conftest import API, School, build_portal, desktop_snapshot, ok, problem


def by_number(items):
    return {i["student_number"]: i for i in items}


def test_snapshot_validation_status_and_refresh(system, school):
    project, parts, _groups = build_portal(school)
    pid = project["id"]
    # status before any snapshot: the project exists, the desktop has not spoken
    problem(school.sync("GET", pid, "status"), 409, "snapshot_required")
    # unknown keys are named, wrong types and non-digit numbers refused
    body = problem(school.sync("PUT", pid, "snapshot", json={"students": [], "klassen": []}),
                   422, "field_unknown")
    assert "klassen" in body["detail"]
    bad = desktop_snapshot()
    bad["students"][0]["student_number"] = "10a1"
    bad["participations"][1]["forecast"] = "veel"
    body = problem(school.sync("PUT", pid, "snapshot", json=bad), 422)
    codes = {(e["code"], e["field"]) for e in body["errors"]}
    assert ("student_number_not_digits", "students.student_number") in codes
    assert ("forecast_invalid", "participations.forecast") in codes
    problem(school.sync("PUT", pid, "snapshot", data="[1]",
                        headers={"Content-Type": "application/json"}), 400, "invalid_body")
    # missing and null are empty
    empty = ok(school.sync("PUT", pid, "snapshot", json={"students": None}))
    assert empty["counts"] == {"students": 0, "participations": 0, "packages": 0, "groups": 0}
    assert empty["status"]["students"]["differences"] == 4

    result = ok(school.sync("PUT", pid, "snapshot", json=desktop_snapshot()))
    assert result["counts"]["students"] == 5
    status = ok(school.sync("GET", pid, "status"))
    assert status["as_of"] >= result["as_of"]  # later once events had the portal read again
    expected = {"students": 3, "personal_data": 1, "participations": 0, "lwoo": 1,
                "home_classes": 2, "forecasts": 1, "packages": 2, "groups": 2}
    assert {c: status[c]["differences"] for c in expected} == expected
    assert status["participations"]["status"] == "ok"
    assert status["packages"]["status"] == "differences" and status["packages"]["exemptions"] == 1
    assert all(status[c]["as_of"] == status["as_of"] for c in expected)

    # a change in the portal shows at once after a refresh
    ok(school.api.patch(f"{API}/participations/{parts['1001']['id']}", token=school.admin,
                        json={"forecast": 100}))
    fresh = ok(school.sync("GET", pid, "status?refresh=true"))
    assert fresh["forecasts"]["status"] == "ok" and fresh["as_of"] > status["as_of"]
    # and without one within seconds: its event has the connector read the portal again
    ok(school.api.patch(f"{API}/participations/{parts['1001']['id']}", token=school.admin,
                        json={"forecast": 80}))

    def forecast_differs():
        current = ok(school.sync("GET", pid, "status"))
        return current if current["forecasts"]["differences"] == 1 else None

    again = wait_until(forecast_differs, timeout=30, interval=0.5)
    assert again["as_of"] > fresh["as_of"] and again["personal_data"]["differences"] == 1

    # the stored snapshot can be read back in the API format
    stored = ok(school.sync("GET", pid, "snapshot"))["snapshot"]
    assert stored["students"][0]["postcode"] == "7311 BA"


def test_differences_per_student_and_department(system, school):
    project, _parts, _groups = build_portal(school)
    pid = project["id"]
    ok(school.sync("PUT", pid, "snapshot", json=desktop_snapshot()))
    diffs = ok(school.sync("GET", pid, "differences/home_classes"))
    items = by_number(diffs["items"])
    assert items["1001"]["fields"] == {"home_class": {"P": "h4a", "D": "h4b"}}
    assert items["1001"]["home_class_authority"] == "portal"
    assert items["1001"]["direction"] == "download"
    assert items["1003"]["direction"] == "upload"
    depts = {d["code"]: d for d in diffs["departments"]}
    assert depts["h4"]["home_class_authority"] == "portal"
    assert depts["h5"]["home_class_authority"] == "desktop"
    only_h5 = ok(school.sync("GET", pid, "differences/home_classes?department=h5"))
    assert [i["student_number"] for i in only_h5["items"]] == ["1003"]
    personal = ok(school.sync("GET", pid, "differences/personal_data"))
    assert personal["items"][0]["fields"] == {"last_name": {"P": "Smit", "D": "Smid"}}
    packages = ok(school.sync("GET", pid, "differences/packages"))
    assert packages["exemptions"] == 1
    assert by_number(packages["items"])["1001"]["fields"] == {
        "exemptions": {"P": ["lo"], "D": []}}
    students = by_number(ok(school.sync("GET", pid, "differences/students"))["items"])
    assert students["1004"]["action"] == "add"
    assert students["2001"]["action"] == "create" and students["2001"]["has_account"] is False
    assert students["2002"]["action"] == "remove" and students["2002"]["has_account"] is True
    problem(school.sync("GET", pid, "differences/rooster"), 404, "category_unknown")


def test_personal_data_downloads_only(system, school):
    project, _parts, _groups = build_portal(school)
    pid = project["id"]
    ok(school.sync("PUT", pid, "snapshot", json=desktop_snapshot()))
    body = problem(school.sync("POST", pid, "upload/personal_data", json={}), 409,
                   "portal_leads")
    assert "portal" in body["detail"] and "leidend" in body["detail"]
    result = ok(school.sync("POST", pid, "download/personal_data", json={}))
    assert result["changes"] == [{"student_number": "1002", "department": "h4",
                                  "action": "set", "values": {"last_name": "Smit"}}]
    assert result["status"]["status"] == "ok"
    assert ok(school.sync("GET", pid, "status"))["personal_data"]["status"] == "ok"
    # nothing left: a second download changes nothing
    assert ok(school.sync("POST", pid, "download/personal_data", json={}))["changes"] == []


def test_placements_download_by_department_and_student(system, school):
    project, _parts, _groups = build_portal(school)
    pid = project["id"]
    snapshot = desktop_snapshot()
    snapshot["participations"][0]["forecast"] = 60
    snapshot["participations"][2]["forecast"] = 50  # 1003 in h5: portal has none
    ok(school.sync("PUT", pid, "snapshot", json=snapshot))
    for category in ("participations", "lwoo", "forecasts", "packages"):
        problem(school.sync("POST", pid, f"upload/{category}", json={}), 409, "portal_leads")

    # forecasts: only h5 first, then one student of h4
    result = ok(school.sync("POST", pid, "download/forecasts", json={"departments": ["h5"]}))
    assert result["changes"] == [{"student_number": "1003", "department": "h5",
                                  "action": "set", "values": {"forecast": None}}]
    assert result["status"]["differences"] == 1
    result = ok(school.sync("POST", pid, "download/forecasts",
                            json={"student_numbers": ["1001"]}))
    assert [c["values"] for c in result["changes"]] == [{"forecast": 80}]
    assert result["status"]["status"] == "ok"

    lwoo = ok(school.sync("POST", pid, "download/lwoo", json={"departments": ["h4"]}))
    assert lwoo["changes"][0]["values"] == {"lwoo": True} and lwoo["status"]["status"] == "ok"

    packages = ok(school.sync("POST", pid, "download/packages",
                              json={"student_numbers": ["1001"]}))
    assert packages["changes"] == [{"student_number": "1001", "department": "h4",
                                    "action": "set", "values": {
                                        "subjects": ["ne", "en", "wi"], "exemptions": ["lo"]}}]
    assert packages["status"]["differences"] == 1 and packages["status"]["exemptions"] == 0
    problem(school.sync("POST", pid, "download/packages", json={"departments": ["x9"]}), 422,
            "department_unknown")
    problem(school.sync("POST", pid, "download/packages", json={"student_numbers": ["1x"]}),
            422, "student_number_not_digits")
    status = ok(school.sync("GET", pid, "status"))
    assert status["forecasts"]["status"] == "ok" and status["lwoo"]["status"] == "ok"
    assert status["packages"]["differences"] == 1


def test_home_classes_follow_the_department_authority(system, school):
    project, parts, _groups = build_portal(school)
    pid = project["id"]
    ok(school.sync("PUT", pid, "snapshot", json=desktop_snapshot()))
    body = problem(school.sync("POST", pid, "download/home_classes",
                               json={"departments": ["h4", "h5"]}), 409, "wrong_direction")
    assert "h5" in body["detail"] and "h4" not in body["detail"]
    body = problem(school.sync("POST", pid, "upload/home_classes",
                               json={"departments": ["h4"]}), 409, "wrong_direction")
    assert "h4" in body["detail"]
    problem(school.sync("POST", pid, "upload/home_classes", json={"student_numbers": ["1001"]}),
            409, "wrong_direction")

    # download: only the portal-led departments move; the desktop-led one stays open
    result = ok(school.sync("POST", pid, "download/home_classes", json={}))
    assert result["changes"] == [{"student_number": "1001", "department": "h4",
                                  "action": "set", "values": {"home_class": "h4a"}}]
    assert result["status"]["status"] == "differences" and result["status"]["upload"] == 1

    # upload: the students service sets the home class (and the home-class group)
    result = ok(school.sync("POST", pid, "upload/home_classes", json={}))
    assert result["applied"] == [{"student_number": "1003", "action": "set",
                                  "department": "h5", "values": {"home_class": "h5b"}}]
    assert result["status"]["status"] == "ok"
    part = ok(school.api.get(f"{API}/participations/{parts['1003']['id']}", token=school.admin))
    assert part["home_class"] == "h5b"
    groups = {g["code"]: g for g in ok(school.api.get(
        f"{API}/projects/{pid}/groups", token=school.admin))["items"]}
    assert groups["h5b"]["student_numbers"] == ["1003"] and groups["h5a"]["student_numbers"] == []
    assert ok(school.sync("GET", pid, "status"))["home_classes"]["status"] == "ok"


def test_groups_upload_sets_memberships(system, school):
    project, _parts, _groups = build_portal(school)
    pid = project["id"]
    ok(school.sync("PUT", pid, "snapshot", json=desktop_snapshot()))
    problem(school.sync("POST", pid, "download/groups", json={}), 409, "desktop_leads")
    result = ok(school.sync("POST", pid, "upload/groups", json={}))
    applied = {a["group"]: a for a in result["applied"]}
    assert applied["h4.wi1"] == {"group": "h4.wi1", "action": "set",
                                 "student_numbers": ["1001", "1002"]}
    assert applied["h5b"]["action"] == "created"
    assert applied["h5b"]["student_numbers"] == ["1003"]  # 2001 is not in the portal yet
    assert {s["student_number"] for s in result["skipped"]} == {"2001"}
    groups = {g["code"]: g for g in ok(school.api.get(
        f"{API}/projects/{pid}/groups", token=school.admin))["items"]}
    assert groups["h4.wi1"]["student_numbers"] == ["1001", "1002"]
    assert groups["h5b"]["kind"] == "home_class"
    # the home-class group set the participation's home class in the students service
    status = ok(school.sync("GET", pid, "status"))
    assert status["home_classes"]["upload"] == 0
    assert ok(school.sync("POST", pid, "upload/groups", json={}))["applied"] == []


def test_upload_students_creates_accounts_once(system, school):
    project, _parts, _groups = build_portal(school)
    pid = project["id"]
    ok(school.sync("PUT", pid, "snapshot", json=desktop_snapshot()))
    result = ok(school.sync("POST", pid, "upload/students", json={}))
    assert result["applied"] == [{"student_number": "2001", "action": "created",
                                  "department": "h5"}]
    user = ok(school.api.get(f"{API}/users/2001", token=school.admin))
    assert user["email"] == "hugo@example.nl" and user["roles"] == ["student"]
    assert user["type"] == "student" and user["postcode"] == "1234 AB"
    parts = ok(school.api.get(f"{API}/projects/{pid}/participations?department=h5",
                              token=school.admin))["items"]
    placed = {p["student_number"]: p for p in parts}
    assert placed["2001"]["forecast"] == 100 and placed["2001"]["home_class"] == "h5b"
    # idempotent: a second upload creates nothing
    again = ok(school.sync("POST", pid, "upload/students", json={}))
    assert again["applied"] == [] and again["count"] == 0
    students = by_number(ok(school.sync("GET", pid, "differences/students"))["items"])
    assert "2001" not in students and students["2002"]["action"] == "remove"
    # download removes the desktop student that has left, adds the one the desktop lacks
    result = ok(school.sync("POST", pid, "download/students", json={}))
    changes = by_number(result["changes"])
    assert changes["2002"]["action"] == "remove" and changes["1004"]["action"] == "add"
    assert changes["1004"]["values"]["first_name"] == "Gijs"
    assert result["status"]["status"] == "ok"


def test_upload_students_refuses_bad_rows_naming_students(system, school):
    project, _parts, _groups = build_portal(school)
    pid = project["id"]
    snapshot = desktop_snapshot()
    snapshot["students"][3]["properties"]["#EMAIL"] = "geen-adres"
    ok(school.sync("PUT", pid, "snapshot", json=snapshot))
    body = problem(school.sync("POST", pid, "upload/students", json={}), 422, "email_invalid")
    assert body["errors"][0]["student_number"] == "2001"
    problem(school.api.get(f"{API}/users/2001", token=school.admin), 404)


def test_roles_and_tenancy(system, school):
    project, _parts, _groups = build_portal(school)
    pid = project["id"]
    ok(school.sync("PUT", pid, "snapshot", json=desktop_snapshot()))
    other = School(system, "01CD", "Het Andere College")
    for method, tail, body in [("PUT", "snapshot", desktop_snapshot()), ("GET", "status", None),
                               ("GET", "snapshot", None),
                               ("GET", "differences/forecasts", None),
                               ("POST", "download/forecasts", {}),
                               ("POST", "upload/groups", {}),
                               ("POST", "upload/personal_data", {}),
                               ("GET", "mutations", None)]:
        r = other.sync(method, pid, tail, json=body)
        problem(r, 404, "not_found")
    # the admin may use the connector too; a mentor and the helpdesk may not
    assert school.sync("GET", pid, "status", token=school.admin).status_code == 200
    mentor = school.user("mentor1", ["mentor"])
    problem(school.sync("GET", pid, "status", token=mentor), 403, "forbidden")
    problem(school.sync("GET", pid, "status", token=system.token), 403, "forbidden")
    problem(system.get(f"{API}/sync/{pid}/status", token=""), 401)


def test_mutation_feed(system, school):
    project, parts, _groups = build_portal(school)
    pid = project["id"]
    ok(school.sync("PUT", pid, "snapshot", json=desktop_snapshot()))
    first = ok(school.sync("GET", pid, "mutations"))
    since = first["as_of"]
    ok(school.api.patch(f"{API}/participations/{parts['1002']['id']}", token=school.admin,
                        json={"forecast": 60}))
    ok(school.api.patch(f"{API}/students/1001", token=school.admin, json={"city": "Deventer"}))

    def changed():
        items = ok(school.sync("GET", pid, f"mutations?since={since}"))["items"]
        kinds = {(i["category"], i["student_number"]) for i in items}
        return items if {("forecasts", "1002"), ("personal_data", "1001")} <= kinds else None

    items = wait_until(changed, timeout=15)
    forecast = next(i for i in items if i["category"] == "forecasts")
    assert forecast["changes"] == {"forecast": [100, 60]} and forecast["project_id"] == pid
    city = next(i for i in items if i["category"] == "personal_data")
    assert city["changes"]["city"] == ["Apeldoorn", "Deventer"]
    # counted as mutations since the portal read, until the connector read it again
    status = ok(school.sync("GET", pid, "status"))
    assert status["mutations_since_as_of"] >= 2 or status["forecasts"]["differences"] == 2
    problem(school.sync("GET", pid, "mutations?since=gisteren"), 422, "since_invalid")
