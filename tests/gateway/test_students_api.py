"""Students and placements through the gateway, against the real services."""
import csv
import io

import pytest

from tests.helpers import make_admin, make_institution, problem

API = "/api/v1"
BSN = "020355889"      # 8-digit 20355889 padded
BSN2 = "123456782"


@pytest.fixture
def school(system):
    inst = make_institution(system)
    admin = make_admin(system, inst)
    assert system.post(f"{API}/users", token=admin, json={
        "code": "mentor1", "first_name": "Mo", "last_name": "Mentor",
        "password": "Mentor-wachtwoord-1", "roles": ["mentor"]}).status_code == 201
    mentor = system.login("00AB", "mentor1", "Mentor-wachtwoord-1")
    return inst, admin, mentor


def student(number, bsn=None, **extra):
    data = {"student_number": number, "type": "potential_transfer", "initials": "D.",
            "first_name": "Daan", "last_name": "Berg", "email": f"l{number}@school.nl"}
    if bsn:
        data["bsn"] = bsn
    data.update(extra)
    return data


def test_student_records_bsn_masking_and_audit(system, school):
    inst, admin, mentor = school
    r = system.post(f"{API}/students", token=admin, json=student("1001", "20355889",
                                                                   home_class="h4a"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["bsn"] == "*****5889" and body["first_name"] == "Daan"
    # the user exists too, as a student
    assert system.get(f"{API}/users/1001", token=admin).json()["type"] == "student"
    # masked for everyone unless an admin reveals it; a reveal is audited
    assert system.get(f"{API}/students/1001", token=mentor).json()["bsn"] == "*****5889"
    problem(system.get(f"{API}/students/1001?reveal=bsn", token=mentor), 403, "forbidden")
    assert system.get(f"{API}/students/1001?reveal=bsn", token=admin).json()["bsn"] == BSN
    audit = system.get(f"{API}/audit/bsn?student_number=1001", token=admin).json()
    actions = [(e.get("action"), e.get("actor_code")) for e in audit["items"]]
    assert ("reveal", "beheer1") in actions, audit
    # search by exact BSN and by name
    assert system.get(f"{API}/students?q={BSN}", token=admin).json()["total"] == 1
    assert system.get(f"{API}/students?q=berg", token=admin).json()["total"] == 1
    assert system.get(f"{API}/students?home_class=h4b", token=admin).json()["total"] == 0


def test_student_bad_input(system, school):
    inst, admin, mentor = school
    b = problem(system.post(f"{API}/students", token=admin, json=student("1002", "123456789")),
                422, "bsn_invalid")
    assert b["errors"][0]["field"] == "bsn"
    b = problem(system.post(f"{API}/students", token=admin, json=student("1002")),
                422, "bsn_required")
    assert b["errors"][0]["field"] == "bsn"
    problem(system.post(f"{API}/students", token=admin, json=student("10a2", BSN2)),
            422, "student_number_not_digits")
    assert system.post(f"{API}/students", token=admin,
                       json=student("1002", BSN2)).status_code == 201
    problem(system.post(f"{API}/students", token=admin, json=student("1003", BSN2)),
            409, "bsn_exists")
    # a non-transfer student needs no BSN
    assert system.post(f"{API}/students", token=admin, json=student(
        "1004", type="non_transfer")).status_code == 201
    problem(system.post(f"{API}/students", token=mentor, json=student("1005", type="non_transfer")),
            403, "forbidden")


def test_placements_mentor_rules_and_leaving(system, school):
    inst, admin, mentor = school
    for number, bsn in (("2001", BSN), ("2002", BSN2)):
        assert system.post(f"{API}/students", token=admin,
                           json=student(number, bsn)).status_code == 201
    this = system.post(f"{API}/projects", token=admin, json={
        "name": "Rooster 2025-2026", "school_year": "2025-2026", "branch": "Hoofdlocatie"}).json()
    nxt = system.post(f"{API}/projects", token=admin, json={
        "name": "Rooster 2026-2027", "school_year": "2026-2027", "branch": "Hoofdlocatie"}).json()
    for project in (this, nxt):
        for code, authority in (("h4", "portal"), ("v4", "desktop")):
            r = system.post(f"{API}/projects/{project['id']}/departments", token=admin, json={
                "code": code, "year_of_education": 4, "education": code[0],
                "home_class_authority": authority,
                "learning_paths": [{"code": f"{code}-nt", "name": "NT",
                                    "element_code": f"E{code.upper()}NT"}]})
            assert r.status_code == 201, r.text
    p1 = system.post(f"{API}/projects/{this['id']}/participations", token=admin, json={
        "student_number": "2001", "department": "h4", "forecast": 80, "learning_path": "h4-nt",
        "home_class": "h4a"})
    assert p1.status_code == 201, p1.text
    p1 = p1.json()
    problem(system.post(f"{API}/projects/{this['id']}/participations", token=admin, json={
        "student_number": "2001", "department": "h4"}), 409, "participation_exists")
    body = problem(system.post(f"{API}/projects/{this['id']}/participations", token=admin,
                               json={"student_number": "2001", "department": "v4"}),
                   422, "forecast_required")
    assert body["errors"][0]["field"] == "forecast" and "v4" in body["detail"]
    # v4's home classes are led by the desktop: the portal sets none there, whoever asks
    problem(system.post(f"{API}/projects/{this['id']}/participations", token=admin, json={
        "student_number": "2002", "department": "v4", "home_class": "v4a"}), 409,
        "home_class_desktop_led")
    p2 = system.post(f"{API}/projects/{this['id']}/participations", token=admin, json={
        "student_number": "2002", "department": "v4"}).json()
    # next year: 60% h4, 40% v4
    assert system.post(f"{API}/projects/{nxt['id']}/participations", token=admin, json={
        "student_number": "2001", "department": "h4", "forecast": 60}).status_code == 201
    problem(system.post(f"{API}/projects/{nxt['id']}/participations", token=admin, json={
        "student_number": "2001", "department": "v4", "forecast": 41}), 422,
        "forecast_total_exceeded")
    assert system.post(f"{API}/projects/{nxt['id']}/participations", token=admin, json={
        "student_number": "2001", "department": "v4", "forecast": 40}).status_code == 201
    mine = system.get(f"{API}/projects/{nxt['id']}/participations?student_number=2001",
                      token=mentor).json()
    assert [(p["department"], p["forecast"]) for p in mine["items"]] == [("h4", 60), ("v4", 40)]
    every = system.get(f"{API}/students/2001/participations", token=mentor)
    assert every.status_code == 200, every.text
    every = every.json()
    assert [(p["school_year"], p["department"]) for p in every["items"]] == [
        ("2026-2027", "h4"), ("2026-2027", "v4"), ("2025-2026", "h4")]
    assert (every["total"], every["page"], every["page_size"]) == (3, 1, 50)
    problem(system.get(f"{API}/students/9999/participations", token=admin), 404, "not_found")
    # mentor: forecast/home class where the portal leads; a home class not where the desktop
    # leads, for no role
    r = system.patch(f"{API}/participations/{p1['id']}", token=mentor, json={"home_class": "h4b"})
    assert r.status_code == 200 and r.json()["home_class"] == "h4b"
    for token in (mentor, admin):
        body = problem(system.patch(f"{API}/participations/{p2['id']}", token=token,
                                    json={"home_class": "v4b"}), 409, "home_class_desktop_led")
        assert "v4" in body["detail"] and body["errors"][0]["field"] == "home_class"
    r = system.patch(f"{API}/participations/{p2['id']}", token=mentor, json={"forecast": 70})
    assert r.status_code == 200 and r.json()["forecast"] == 70
    problem(system.patch(f"{API}/participations/{p1['id']}", token=mentor,
                         json={"profile": "EM"}), 403, "forbidden")
    # package, group, then a department change wipes the package when asked and drops groups
    assert system.put(f"{API}/participations/{p1['id']}/package", token=admin, json={
        "subjects": ["ne", "en", "wi"], "exemptions": ["lo"]}).status_code == 200
    group = system.post(f"{API}/projects/{this['id']}/groups", token=admin, json={
        "code": "h4.wi1", "department": "h4", "kind": "cluster", "subject": "wi"}).json()
    r = system.put(f"{API}/groups/{group['id']}/members", token=admin,
                   json={"student_numbers": ["2001"]})
    assert r.status_code == 200 and r.json()["student_numbers"] == ["2001"]
    problem(system.patch(f"{API}/participations/{p1['id']}", token=admin,
                         json={"department": "v4"}), 422, "keep_package_required")
    r = system.patch(f"{API}/participations/{p1['id']}", token=admin,
                     json={"department": "v4", "keep_package": False})
    assert r.status_code == 200, r.text
    assert system.get(f"{API}/participations/{p1['id']}/package", token=admin).json()[
        "subjects"] == []
    groups = system.get(f"{API}/projects/{this['id']}/groups", token=admin).json()["items"]
    assert [g["student_numbers"] for g in groups if g["code"] == "h4.wi1"] == [[]]
    # placements export for the administration
    r = system.get(f"{API}/projects/{this['id']}/placements.csv", token=admin)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text), delimiter=";"))
    assert rows[0] == ["leerlingnummer", "afdeling", "leerpad", "elementcode"]
    assert ["2002", "v4", "", ""] in rows
    # leaving: this year's and next year's participations go, the user is archived
    r = system.post(f"{API}/students/2001/leave", token=admin, json={"date": "2026-03-01"})
    assert r.status_code == 200, r.text
    assert r.json()["archived"] is True and len(r.json()["removed_participations"]) == 3
    for project in (this, nxt):
        numbers = [p["student_number"] for p in system.get(
            f"{API}/projects/{project['id']}/participations", token=admin).json()["items"]]
        assert "2001" not in numbers
    assert system.get(f"{API}/users/2001", token=admin).json()["archived"] is True


def test_another_institutions_student_is_404(system, school):
    inst, admin, mentor = school
    assert system.post(f"{API}/students", token=admin, json=student("3001", BSN)).status_code == 201
    other = make_institution(system, "02EF", "Ander College")
    other_admin = make_admin(system, other, code="beheer2")
    problem(system.get(f"{API}/students/3001", token=other_admin), 404, "not_found")
    problem(system.get(f"{API}/students/3001/participations", token=other_admin), 404,
            "not_found")
    problem(system.post(f"{API}/students/3001/leave", token=other_admin, json={}), 404,
            "not_found")
    assert system.get(f"{API}/students?q={BSN}", token=other_admin).json()["total"] == 0


@pytest.mark.pg
def test_search_ignores_case_and_accents_on_users_and_students(system, school):
    """q=ozil finds Özil, q=celik Çelik, q=danielle Daniëlle, through both
    GET /users (users.list_users) and GET /students (users.find_codes)."""
    inst, admin, mentor = school
    people = [("3001", "Mesut", None, "Özil"), ("3002", "Ayşe", None, "Çelik"),
              ("3003", "Daniëlle", "van 't", "Hof")]
    for number, first, prefix, last in people:
        r = system.post(f"{API}/students", token=admin, json=student(
            number, type="non_transfer", first_name=first, prefix=prefix, last_name=last))
        assert r.status_code == 201, r.text
    cases = {"ozil": ["3001"], "ÖZIL": ["3001"], "Özil": ["3001"], "mesut ozil": ["3001"],
             "celik": ["3002"], "ÇELİK": ["3002"], "ayse": ["3002"],
             "danielle": ["3003"], "Daniëlle van 't hof": ["3003"], "o%il": [], "_zil": []}
    for q, expected in cases.items():
        users = system.get(f"{API}/users", token=admin, params={"q": q}).json()
        assert [u["code"] for u in users["items"]] == expected, q
        students = system.get(f"{API}/students", token=admin, params={"q": q}).json()
        assert [s["student_number"] for s in students["items"]] == expected, q
        assert students["total"] == len(expected)
    # the mentor's view of the students searches the same way
    found = system.get(f"{API}/students", token=mentor, params={"q": "ozil"}).json()
    assert [s["student_number"] for s in found["items"]] == ["3001"]


def test_mentor_classes_and_the_mentors_students(system, school):
    inst, admin, mentor = school
    for number, klass, first in (("2001", "3h1", "Daan"), ("2002", "3H1", "Eva"),
                                 ("2003", "3h2", "Finn"), ("2004", "3v1", "Noor")):
        r = system.post(f"{API}/students", token=admin, json=student(
            number, first_name=first, home_class=klass, type="non_transfer"))
        assert r.status_code == 201, r.text
    project = system.post(f"{API}/projects", token=admin, json={
        "name": "Rooster volgend jaar", "school_year": "2030-2031", "branch": "Hoofd"}).json()
    for code, authority in (("h4", "portal"), ("v4", "desktop")):
        assert system.post(f"{API}/projects/{project['id']}/departments", token=admin, json={
            "code": code, "year_of_education": 4, "education": code,
            "home_class_authority": authority}).status_code == 201
    for number, dept, forecast in (("2001", "h4", 60), ("2001", "v4", 40), ("2002", "h4", None),
                                   ("2003", "h4", None)):
        r = system.post(f"{API}/projects/{project['id']}/participations", token=admin,
                        json={"student_number": number, "department": dept,
                              "forecast": forecast})
        assert r.status_code == 201, r.text

    # nobody assigned yet: the mentor sees an empty list, with the project
    empty = system.get(f"{API}/mentors/mentor1/students", token=mentor).json()
    assert empty["items"] == [] and empty["home_classes"] == []
    assert empty["project"]["id"] == project["id"]
    # only an admin assigns classes, only to a mentor
    problem(system.put(f"{API}/mentors/mentor1/classes", token=mentor,
                       json={"home_classes": ["3h1"]}), 403)
    b = problem(system.put(f"{API}/mentors/beheer1/classes", token=admin,
                           json={"home_classes": ["3h1"]}), 422, "not_a_mentor")
    assert "mentor" in b["errors"][0]["message"]
    problem(system.put(f"{API}/mentors/niemand/classes", token=admin,
                       json={"home_classes": ["3h1"]}), 404)
    problem(system.put(f"{API}/mentors/mentor1/classes", token=admin,
                       json={"home_classes": [""]}), 422)
    r = system.put(f"{API}/mentors/mentor1/classes", token=admin,
                   json={"home_classes": ["3h1", "3h2", "3H1"]})
    assert r.status_code == 200, r.text
    assert r.json() == {"mentor": "mentor1", "home_classes": ["3h1", "3h2"]}
    assert system.get(f"{API}/mentors/mentor1/classes", token=mentor).json()["home_classes"] \
        == ["3h1", "3h2"]

    page = system.get(f"{API}/mentors/mentor1/students", token=mentor).json()
    assert [s["student_number"] for s in page["items"]] == ["2001", "2002", "2003"]
    daan = page["items"][0]
    assert (daan["first_name"], daan["home_class"]) == ("Daan", "3h1")
    by_dept = {p["department"]: p for p in daan["participations"]}
    assert by_dept["h4"]["forecast"] == 60 and by_dept["h4"]["may_change"] == ["forecast",
                                                                                 "home_class"]
    assert by_dept["v4"]["home_class_authority"] == "desktop"
    assert by_dept["v4"]["may_change"] == ["forecast"]
    # a mentor reads only their own; an admin any mentor's
    problem(system.get(f"{API}/mentors/beheer1/students", token=mentor), 403)
    assert system.get(f"{API}/mentors/mentor1/students?page_size=1&page=3",
                      token=admin).json()["items"][0]["student_number"] == "2003"
    # what the page offers is what the rules allow: forecast yes, home class only portal-led
    r = system.patch(f"{API}/participations/{by_dept['h4']['id']}", token=mentor,
                     json={"forecast": 55, "home_class": "h4b"})
    assert r.status_code == 200, r.text
    problem(system.patch(f"{API}/participations/{by_dept['v4']['id']}", token=mentor,
                         json={"home_class": "v4a"}), 409, "home_class_desktop_led")
    problem(system.patch(f"{API}/participations/{by_dept['v4']['id']}", token=mentor,
                         json={"forecast": 50}), 422, "forecast_total_exceeded")  # 55 + 50

    # the project's participations: filters and names
    parts = system.get(f"{API}/projects/{project['id']}/participations?names=true&department=h4",
                       token=admin).json()
    assert [(p["student_number"], p["first_name"]) for p in parts["items"]] == [
        ("2001", "Daan"), ("2002", "Eva"), ("2003", "Finn")]
    assert "first_name" not in system.get(f"{API}/projects/{project['id']}/participations",
                                          token=admin).json()["items"][0]
    klass = system.get(f"{API}/projects/{project['id']}/participations?home_class=H4B",
                       token=admin).json()
    assert [p["student_number"] for p in klass["items"]] == ["2001"]
