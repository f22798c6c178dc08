"""The gateway over HTTP against the real services on a real RabbitMQ."""
import time

import jwt
import pytest

from tests.helpers import make_admin, make_institution, problem, service_class, wait_until

API = "/api/v1"


@pytest.fixture
def school(system):
    inst = make_institution(system)
    admin = make_admin(system, inst)
    return inst, admin


def test_health_and_openapi(system):
    r = system.get("/health")
    assert r.status_code == 200, r.text
    assert r.json()["services"] == {n: "ok" for n in ("users", "students", "uploads", "sync", "oso")}
    spec = system.get("/openapi.json").json()
    assert spec["openapi"] == "3.1.0" and "/api/v1/users" in spec["paths"]


def test_me_and_institutions(system, school):
    inst, admin = school
    me = system.get(f"{API}/me").json()
    assert me["roles"] == ["helpdesk"] and me["institution"]["name"] == "platform"
    me = system.get(f"{API}/me", token=admin).json()
    assert me["user"]["code"] == "beheer1" and me["institution"]["brin"] == "00AB"
    assert system.get(f"{API}/institutions/{inst['id']}", token=admin).status_code == 200
    listing = system.get(f"{API}/institutions").json()
    assert [i["brin"] for i in listing["items"]] == ["00AB"] and listing["total"] == 1
    problem(system.get(f"{API}/institutions", token=admin), 403, "forbidden")


def test_institution_input_errors(system):
    b = problem(system.post(f"{API}/institutions",
                            json={"name": "X", "brin": "ZZ99", "school_type": "vo"}), 422, "brin_invalid")
    assert b["errors"][0]["field"] == "brin"
    make_institution(system, "01CD")
    problem(system.post(f"{API}/institutions",
                        json={"name": "Y", "brin": "01CD", "school_type": "vo"}), 409, "institution_exists")
    b = problem(system.post(f"{API}/institutions", json={"name": "X", "brin": "01CD"}), 422, "required")
    assert b["errors"][0]["field"] == "school_type"


@pytest.mark.pg
def test_users_crud_filters_and_search(system, school):
    inst, admin = school
    base = {"first_name": "Daan", "last_name": "Berg", "prefix": "van den"}
    r = system.post(f"{API}/users", token=admin, json={**base, "code": "123456", "is_student": True,
                                                        "postcode": "7311ba", "email": "Daan@Example.nl"})
    assert r.status_code == 201, r.text
    daan = r.json()
    assert daan["type"] == "student" and daan["roles"] == ["student"] and daan["postcode"] == "7311 BA"
    for i in range(3):
        assert system.post(f"{API}/users", token=admin, json={
            "code": f"docent{i}", "first_name": "Piet", "last_name": f"Jansen{i}",
            "roles": ["mentor"]}).status_code == 201
    all_users = system.get(f"{API}/users", token=admin).json()
    assert all_users["total"] == 5  # admin + student + 3 employees
    students = system.get(f"{API}/users?filter=students", token=admin).json()
    assert [u["code"] for u in students["items"]] == ["123456"]
    employees = system.get(f"{API}/users?filter=employees", token=admin).json()
    assert employees["total"] == 4
    assert system.get(f"{API}/users?q=berg", token=admin).json()["total"] == 1
    assert system.get(f"{API}/users?q=example.nl", token=admin).json()["total"] == 1
    assert system.get(f"{API}/users?q=docent1", token=admin).json()["total"] == 1
    page = system.get(f"{API}/users?filter=employees&page=2&page_size=3", token=admin).json()
    assert page["page"] == 2 and page["page_size"] == 3 and len(page["items"]) == 1
    r = system.patch(f"{API}/users/123456", token=admin, json={"city": "Apeldoorn"})
    assert r.status_code == 200 and r.json()["city"] == "Apeldoorn"
    assert system.get(f"{API}/users/123456", token=admin).json()["city"] == "Apeldoorn"
    # helpdesk acts on an institution it names
    problem(system.get(f"{API}/users"), 422, "institution_id_required")
    assert system.get(f"{API}/users?institution_id={inst['id']}").json()["total"] == 5


def test_user_input_errors(system, school):
    inst, admin = school
    b = problem(system.post(f"{API}/users", token=admin, json={
        "code": "12ab", "first_name": "A", "last_name": "B", "is_student": True}),
        422, "student_number_not_digits")
    assert b["errors"][0]["field"] == "code"
    assert "cijfers" in b["detail"]
    ok = {"code": "777", "first_name": "A", "last_name": "B", "is_student": True}
    assert system.post(f"{API}/users", token=admin, json=ok).status_code == 201
    problem(system.post(f"{API}/users", token=admin, json=ok), 409, "user_exists")
    b = problem(system.post(f"{API}/users", token=admin, json={**ok, "code": "778", "shoe": 1}),
                422, "unknown_field")
    assert b["errors"][0]["field"] == "shoe"
    b = problem(system.post(f"{API}/users", token=admin, json={**ok, "code": "779",
                                                                 "postcode": "12345"}),
                422, "postcode_invalid")
    assert b["errors"][0]["field"] == "postcode"
    problem(system.post(f"{API}/users", token=admin, data=b'{"code": ',
                        headers={"Content-Type": "application/json"}), 400, "malformed_json")
    big = b'{"code": "1", "note": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    problem(system.post(f"{API}/users", token=admin, data=big,
                        headers={"Content-Type": "application/json"}), 413, "body_too_large")
    problem(system.get(f"{API}/users?page_size=900", token=admin), 422, "range_invalid")
    problem(system.get(f"{API}/users/nobody", token=admin), 404, "not_found")


def test_tenancy_and_roles(system, school):
    inst_a, admin_a = school
    inst_b = make_institution(system, "02EF", "Ander College")
    admin_b = make_admin(system, inst_b, code="beheer2")
    assert system.post(f"{API}/users", token=admin_b, json={
        "code": "555", "first_name": "B", "last_name": "Leerling", "is_student": True,
        "password": "Leerling-wachtwoord-1"}).status_code == 201
    # another institution's user, institution or list: 404, never a hint it exists
    problem(system.get(f"{API}/users/555", token=admin_a), 404, "not_found")
    problem(system.post(f"{API}/users/555/archive", token=admin_a), 404, "not_found")
    problem(system.get(f"{API}/institutions/{inst_b['id']}", token=admin_a), 404, "not_found")
    problem(system.get(f"{API}/users?institution_id={inst_b['id']}", token=admin_a), 404, "not_found")
    # a student reads only themselves
    student = system.login("02EF", "555", "Leerling-wachtwoord-1")
    assert system.get(f"{API}/users/555", token=student).json()["code"] == "555"
    problem(system.get(f"{API}/users/beheer2", token=student), 403, "forbidden")
    problem(system.get(f"{API}/users", token=student), 403, "forbidden")
    # no token, a token in the URL, a forged token: 401
    problem(system.get(f"{API}/users", token=""), 401, "not_authenticated")
    problem(system.get(f"{API}/users?access_token={admin_a}", token=""), 401, "not_authenticated")
    forged = jwt.encode({"sub": "1", "iat": int(time.time()), "exp": int(time.time()) + 60},
                        "wrong-key" * 5, algorithm="HS256")
    problem(system.get(f"{API}/me", token=forged), 401, "token_invalid")


def test_archive_refuses_login_and_token(system, school):
    inst, admin = school
    pw = "Docent-wachtwoord-1"
    assert system.post(f"{API}/users", token=admin, json={
        "code": "doc", "first_name": "D", "last_name": "Docent", "password": pw,
        "roles": ["mentor"]}).status_code == 201
    doc_token = system.login("00AB", "doc", pw)
    assert system.get(f"{API}/me", token=doc_token).status_code == 200
    r = system.post(f"{API}/users/doc/archive", token=admin)
    assert r.status_code == 200 and r.json()["archived"] is True
    assert system.get(f"{API}/users?filter=archived", token=admin).json()["total"] == 1
    problem(system.get(f"{API}/me", token=doc_token), 401, "token_invalid")
    archived = system.post(f"{API}/auth/token", json={"institution": "00AB", "code": "doc",
                                                       "password": pw})
    wrong = system.post(f"{API}/auth/token", json={"institution": "00AB", "code": "beheer1",
                                                    "password": "niet-het-wachtwoord"})
    assert archived.status_code == wrong.status_code == 401
    assert archived.json() == wrong.json()  # no hint which part was wrong
    problem(system.post(f"{API}/users/beheer1/archive", token=admin), 409, "cannot_archive_self")
    assert system.post(f"{API}/users/doc/unarchive", token=admin).status_code == 200
    assert system.login("00AB", "doc", pw)


def test_repeated_failed_logins_are_slowed_down(system, school):
    bad = {"institution": "00AB", "code": "beheer1", "password": "fout-fout-fout"}
    statuses = [system.post(f"{API}/auth/token", json=bad).status_code for _ in range(5)]
    assert statuses == [401] * 5
    r = system.post(f"{API}/auth/token", json={**bad, "password": "Geheim-wachtwoord-1"})
    body = problem(r, 429, "too_many_attempts")
    assert int(r.headers["Retry-After"]) >= 1 and body["detail"]


def test_service_down_gives_503_and_recovers(system, school, container_factory):
    inst, admin = school
    from nameko.testing.utils import get_container
    users_cls = service_class("users")
    get_container(system.runner, users_cls).stop()
    started = time.monotonic()
    r = system.get(f"{API}/users/beheer1", token=admin)
    elapsed = time.monotonic() - started
    body = problem(r, 503, "service_unavailable")
    assert body["service"] == "users" and elapsed < 10
    health = system.get("/health")
    assert health.status_code == 503 and health.json()["down"] == ["users"]
    # the service comes back: the same gateway works again
    container_factory(users_cls, system.config).start()
    wait_until(lambda: system.get("/health").status_code == 200, timeout=15)
    assert system.get(f"{API}/users/beheer1", token=admin).status_code == 200


def test_long_connector_call_with_sync_down_answers_503_within_the_deadline(system, school):
    inst, admin = school
    from nameko.testing.utils import get_container
    get_container(system.runner, service_class("sync")).stop()
    started = time.monotonic()
    r = system.put(f"{API}/sync/1/snapshot", token=admin, json={"students": []})
    body = problem(r, 503, "service_unavailable")
    assert body["service"] == "sync" and time.monotonic() - started < 10


def test_what_fuzzing_found_answers_4xx_not_500(system, school):
    """The server errors schemathesis found: ids beyond 64 bits, JSON nested
    1,000 deep, a page number beyond any list, a non-list where a list
    belongs; and executing OSO actions without a dossier source (the set-up,
    not an outage)."""
    _inst, admin = school
    huge = "9" * 25
    problem(system.get(f"{API}/participations/{huge}", token=admin), 404, "not_found")
    problem(system.get(f"{API}/projects/{huge}/placements.csv", token=admin), 404, "not_found")
    problem(system.delete(f"{API}/participations/{2 ** 63}", token=admin), 404, "not_found")
    problem(system.get(f"{API}/students?page=99999999999999999999", token=admin), 422,
            "range_invalid")
    problem(system.get(f"{API}/users?page=10000001", token=admin), 422, "range_invalid")
    deep = "[" * 1000 + "]" * 1000
    r = system.post(f"{API}/projects", token=admin, data='{"name": ' + deep + "}",
                    headers={"Content-Type": "application/json"})
    problem(r, 400, "json_too_deep")
    r = system.post(f"{API}/projects", token=admin, data="[" * 100000 + "]" * 100000,
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    r = system.post(f"{API}/projects/1/participations", token=admin,
                    json={"student_number": "1", "department": "h4", "forecast": 2 ** 70})
    assert problem(r, 422)["errors"][0]["field"] == "forecast"
    r = system.put(f"{API}/sync/1/snapshot", token=admin,
                   json={"groups": [{"code": "g", "kind": "cluster", "student_numbers": True}]})
    assert r.status_code in (403, 404, 422), r.text
    r = system.post(f"{API}/oso/actions", token=admin,
                    json={"items": [{"bsn": "020355889", "action": "import"}]})
    body = problem(r, 409, "source_not_configured")
    assert "LEERLINGBUS_OSO_SOURCE" in body["detail"]
    r = system.post(f"{API}/projects", token=admin, json={"name": "R", "school_year": "2025-2026",
                                                          "branch": "H", "extra": 1})
    assert problem(r, 422)["detail"]
    r = system.post(f"{API}/projects/1/departments", token=admin,
                    json={"code": "h4", "home_class_authority": "beide"})
    body = problem(r, 422)
    choice = next(e for e in body["errors"] if e["field"] == "home_class_authority")
    assert choice["code"] == "choice_invalid" and "portal, desktop" in choice["message"]
    assert ".;" not in body["detail"]


def test_the_document_describes_every_answer_and_body(system):
    spec = system.get("/openapi.json").json()
    paths = spec["paths"]
    delete = paths["/api/v1/participations/{participation_id}"]["delete"]["responses"]
    assert "204" in delete and "content" not in delete["204"]
    for path in ("/api/v1/users/{code}/archive", "/api/v1/users/{code}/unarchive"):
        assert "422" in paths[path]["post"]["responses"]
    assert "409" in paths["/api/v1/oso/actions"]["post"]["responses"]
    for path in ("/api/v1/uploads", "/api/v1/imports", "/api/v1/public/uploads"):
        schema = paths[path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert schema["type"] == "object" and "allOf" not in schema
        assert schema["properties"]["file"] == {"type": "string", "format": "binary"}
        assert "file" in schema["required"]
