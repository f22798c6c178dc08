"""Fixtures of the connector tests: a school with an admin and a scheduler, and
a project in the portal built through the gateway (on top of tests/conftest.py)."""
import pytest
from tests.helpers import problem  # noqa: F401  (used by the tests here)

API = "/api/v1"
PASSWORD = "Geheim-wachtwoord-1"


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


class School:
    """An institution with an admin and a scheduler token, and helpers that
    build the portal side through the API as an admin would."""

    def __init__(self, api, brin, name):
        self.api = api
        self.institution = ok(api.post(f"{API}/institutions", json={
            "name": name, "brin": brin, "school_type": "vo"}), 201)
        self.admin = self.user("beheer1", ["admin"])
        self.scheduler = self.user("rooster1", ["scheduler"])

    def user(self, code, roles):
        ok(self.api.post(f"{API}/users", json={
            "institution_id": self.institution["id"], "code": code, "first_name": "Anna",
            "last_name": "Test", "email": f"{code}@school.nl", "password": PASSWORD,
            "roles": roles}), 201)
        return self.api.login(self.institution["brin"], code, PASSWORD)

    # -- as the admin --------------------------------------------------------------
    def post(self, path, body, status=201):
        return ok(self.api.post(f"{API}{path}", token=self.admin, json=body), status)

    def project(self, departments):
        project = self.post("/projects", {"name": "Rooster 2025-2026", "school_year": "2025-2026",
                                          "branch": "Hoofdvestiging"})
        for code, year, authority in departments:
            self.post(f"/projects/{project['id']}/departments", {
                "code": code, "year_of_education": year, "education": "havo",
                "home_class_authority": authority})
        return project

    def student(self, number, first, last, **extra):
        body = {"student_number": number, "type": "non_transfer", "initials": first[0] + ".",
                "first_name": first, "last_name": last}
        body.update({k: v for k, v in extra.items()
                     if k in ("prefix", "gender", "email", "home_class")})
        self.post("/students", body)
        personal = {k: v for k, v in extra.items()
                    if k in ("street", "house_number", "postcode", "city")}
        if personal:
            ok(self.api.patch(f"{API}/students/{number}", token=self.admin, json=personal))

    def place(self, project_id, number, department, **extra):
        return self.post(f"/projects/{project_id}/participations",
                         {"student_number": number, "department": department, **extra})

    def package(self, participation_id, subjects, exemptions=()):
        return ok(self.api.put(f"{API}/participations/{participation_id}/package",
                               token=self.admin,
                               json={"subjects": list(subjects), "exemptions": list(exemptions)}))

    def group(self, project_id, code, department, kind, members=(), subject=None, token=None):
        group = self.post(f"/projects/{project_id}/groups", {
            "code": code, "department": department, "kind": kind, "subject": subject})
        if members:
            ok(self.api.put(f"{API}/groups/{group['id']}/members", token=token or self.admin,
                            json={"student_numbers": list(members)}))
        return group

    # -- as the scheduler (the connector) ---------------------------------------------
    def sync(self, method, project_id, tail, token=None, **kw):
        return self.api.request(method, f"{API}/sync/{project_id}/{tail}",
                                token=token or self.scheduler, **kw)


@pytest.fixture
def school(system):
    return School(system, "00AB", "Het Testcollege")


def build_portal(school):
    """A project: h4 (portal leads home classes) and h5 (desktop leads), four
    placed students with packages and groups, one student without a placement."""
    project = school.project([("h4", 4, "portal"), ("h5", 5, "desktop")])
    pid = project["id"]
    school.student("1001", "Daan", "Berg", prefix="van de", gender="M", home_class="3h1",
                   email="daan@school.nl", street="Hoofdstraat", house_number="136a",
                   postcode="7311 BA", city="Apeldoorn")
    school.student("1002", "Eva", "Smit", gender="V", home_class="3h2")
    school.student("1003", "Finn", "Jong", home_class="4h1")
    school.student("1004", "Gijs", "Bos", home_class="4h2")
    school.student("2002", "Iris", "Oud")
    parts = {
        "1001": school.place(pid, "1001", "h4", forecast=80, home_class="h4a", profile="NT"),
        "1002": school.place(pid, "1002", "h4", forecast=100, lwoo=True, home_class="h4b"),
        "1003": school.place(pid, "1003", "h5"),
        "1004": school.place(pid, "1004", "h5"),
    }
    school.package(parts["1001"]["id"], ["ne", "en", "wi"], ["lo"])
    school.package(parts["1002"]["id"], ["ne"])
    groups = {
        # h5's home classes are the desktop's: it is the scheduler who fills them
        "h5a": school.group(pid, "h5a", "h5", "home_class", ["1003"], token=school.scheduler),
        "h4.wi1": school.group(pid, "h4.wi1", "h4", "cluster", ["1001"], subject="wi"),
    }
    return project, parts, groups


def desktop_snapshot():
    """The desktop's view of the same project, with differences in every category."""
    return {
        "students": [
            {"student_number": "1001", "first_name": "Daan", "prefix": "van de",
             "last_name": "Berg", "gender": "M", "street": "Hoofdstraat",
             "house_number": "136a", "postcode": "7311ba", "city": "Apeldoorn",
             "email": "daan@school.nl", "previous_home_class": "3h1",
             "properties": {"#EMAIL": "daan@school.nl"}},
            {"student_number": "1002", "first_name": "Eva", "last_name": "Smid",
             "gender": "V", "previous_home_class": "3h2"},
            {"student_number": "1003", "first_name": "Finn", "last_name": "Jong",
             "previous_home_class": "4h1"},
            {"student_number": "2001", "first_name": "Hugo", "last_name": "Nieuw",
             "gender": "M", "postcode": "1234 AB", "previous_home_class": "3h1",
             "properties": {"#EMAIL": "hugo@example.nl"}},
            {"student_number": "2002", "first_name": "Iris", "last_name": "Oud"},
        ],
        "participations": [
            {"student_number": "1001", "department": "h4", "forecast": 100, "lwoo": False,
             "home_class": "h4b", "profile": "NT", "programme": None},
            {"student_number": "1002", "department": "h4", "forecast": 100, "lwoo": False,
             "home_class": "h4b"},
            {"student_number": "1003", "department": "h5", "home_class": "h5b"},
            {"student_number": "2001", "department": "h5", "forecast": 100, "home_class": "h5b"},
        ],
        "packages": [
            {"student_number": "1001", "department": "h4", "subjects": ["ne", "en", "wi"],
             "exemptions": []},
            {"student_number": "1002", "department": "h4", "subjects": ["ne", "du"],
             "exemptions": []},
        ],
        "groups": [
            {"code": "h4.wi1", "department": "h4", "kind": "cluster", "subject": "wi",
             "student_numbers": ["1001", "1002"]},
            {"code": "h5b", "department": "h5", "kind": "home_class",
             "student_numbers": ["1003", "2001"]},
        ],
    }
