"""The pages of the second half of docs/web.md in-process against the real gateway and
services (the `system` fixture), through werkzeug's test client: a CSV import
from the file to the counts and back (its progress as the page's script polls
it), the roles each page is for, CSRF on the new forms, the connector before
the desktop sent anything, and the mentor's refusal in words. The browser
tests walk the same flows as a person."""
import io
import re

import eventlet
import pytest
from werkzeug.test import Client

from tests.helpers import make_admin, make_institution
from web.app import create_app
from web.settings import WebSettings

API = "/api/v1"


@pytest.fixture
def web(system, tmp_path):
    settings = WebSettings(secret_key="web-test-" + "k" * 40, session_dir=tmp_path / "sessions",
                           gateway_url=system.base_url)
    return lambda: Client(create_app(settings))


@pytest.fixture
def school(system):
    inst = make_institution(system, brin="07WB", name="Het Webcollege")
    admin = make_admin(system, inst, code="beheer1", password="Beheer-wachtwoord-1")
    for code, roles in (("rooster1", ["scheduler"]), ("mentor1", ["mentor"])):
        r = system.post(f"{API}/users", token=admin, json={
            "code": code, "first_name": "Mo", "last_name": code, "roles": roles,
            "password": "Medewerker-wachtwoord-1"})
        assert r.status_code == 201, r.text
    return inst, admin


def csrf(response):
    return re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True))[1]


def login(client, code, password="Medewerker-wachtwoord-1"):
    page = client.get("/inloggen")
    r = client.post("/inloggen", data={"csrf_token": csrf(page), "institution": "07WB",
                                       "code": code, "password": password})
    assert r.status_code == 303, r.get_data(as_text=True)[:500]
    return client


def test_csv_import_from_the_file_to_the_counts_and_back(web, system, school):
    _inst, admin = school
    client = login(web(), "beheer1", "Beheer-wachtwoord-1")
    page = client.get("/importeren")
    assert page.status_code == 200
    # no file: said beside the field, nothing sent
    r = client.post("/importeren", data={"csrf_token": csrf(page), "kind": "users"})
    assert r.status_code == 422 and 'id="file-fout"' in r.get_data(as_text=True)
    text = "code;voornaam;achternaam\n6001;Daan;Berg\n6002;Eva;Smit\n".encode()
    r = client.post("/importeren", data={"csrf_token": csrf(page), "kind": "users",
                                         "delimiter": ";", "file": (io.BytesIO(text),
                                                                    "export.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 303, r.get_data(as_text=True)[:500]
    path = r.headers["Location"]
    import_id = int(path.rsplit("/", 1)[1])
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert '<option value="code" selected>' in html and "Daan · Eva" in html
    # no key column: the API's words beside the columns
    r = client.post(f"{path}/kolommen", data={"csrf_token": csrf(page), "kolom-0": "",
                                              "kolom-1": "first_name", "kolom-2": "last_name",
                                              "mode": "import", "as_students": "1"})
    assert r.status_code == 422 and "Koppel een kolom aan het veld code" in \
        r.get_data(as_text=True)
    r = client.post(f"{path}/kolommen", data={"csrf_token": csrf(page), "kolom-0": "code",
                                              "kolom-1": "first_name", "kolom-2": "last_name",
                                              "mode": "import", "as_students": "1"})
    assert r.status_code == 303
    html = client.get(path).get_data(as_text=True)
    assert "Nieuw (2)" in html and "Doorvoeren" in html
    # Doorvoeren: 202 from the API, progress polled as the page's script does
    r = client.post(f"{path}/doorvoeren", data={"csrf_token": csrf(page)})
    assert r.status_code == 303
    seen = []
    for _ in range(150):
        progress = client.get(f"{path}/voortgang").get_json()
        seen.append(progress)
        if progress["status"] != "committing":
            break
        eventlet.sleep(0.2)
    assert seen[0]["label"] in ("Wordt doorgevoerd", "Doorgevoerd")
    assert progress == {"status": "committed", "label": "Doorgevoerd", "done": 2, "total": 2}
    html = client.get(path).get_data(as_text=True)
    assert "Resultaat" in html and "Ongedaan maken" in html
    assert system.get(f"{API}/users/6001", token=admin).status_code == 200
    # Ongedaan maken
    r = client.post(f"{path}/ongedaan-maken", data={"csrf_token": csrf(page)})
    assert r.status_code == 303
    html = client.get(path).get_data(as_text=True)
    assert "De import is ongedaan gemaakt: 2 verwijderd." in html
    assert system.get(f"{API}/users/6001", token=admin).status_code == 404
    # in the history
    html = client.get("/importeren/geschiedenis").get_data(as_text=True)
    assert f'href="/importeren/{import_id}"' in html and "Ongedaan gemaakt" in html


def test_each_page_for_its_roles_and_csrf_on_the_new_forms(web, system, school):
    scheduler = login(web(), "rooster1")
    mentor = login(web(), "mentor1")
    admin = login(web(), "beheer1", "Beheer-wachtwoord-1")
    for path in ("/importeren", "/importeren/geschiedenis", "/projecten", "/oso", "/mentor"):
        assert scheduler.get(path).status_code == 403, path
    for path in ("/importeren", "/projecten", "/oso", "/portalconnector"):
        assert mentor.get(path).status_code == 403, path
    assert admin.get("/mentor").status_code == 403
    assert admin.get("/portalconnector").status_code == 200  # the API lets an admin read it
    # no project yet; then one the desktop sent nothing for
    html = scheduler.get("/portalconnector").get_data(as_text=True)
    assert "Er is nog geen roosterproject." in html
    r = admin.post("/projecten", data={"csrf_token": csrf(admin.get("/projecten")),
                                       "name": "Rooster", "school_year": "2030-2031",
                                       "branch": "Hoofd"})
    assert r.status_code == 303
    html = scheduler.get("/portalconnector").get_data(as_text=True)
    assert "nog geen gegevens gestuurd" in html
    assert scheduler.get("/portalconnector/bestaat-niet").status_code == 404
    # every new form refuses a POST without the session's CSRF token
    for path in ("/importeren", "/importeren/1/doorvoeren", "/projecten",
                 "/oso/aanleverpunt", "/oso/leerlingen", "/oso/uitvoeren"):
        r = admin.post(path, data={"csrf_token": "x"})
        assert r.status_code == 403, path
        assert "Formulier verlopen" in r.get_data(as_text=True)
    r = mentor.post("/mentor/deelnames/1", data={"forecast": "50"})
    assert r.status_code == 403


def test_the_mentors_refusal_in_words_beside_the_row(web, system, school):
    _inst, admin = school
    for number in ("6101",):
        assert system.post(f"{API}/students", token=admin, json={
            "student_number": number, "type": "non_transfer", "initials": "D.",
            "first_name": "Daan", "last_name": "Berg", "home_class": "2a"}).status_code == 201
    project = system.post(f"{API}/projects", token=admin, json={
        "name": "Volgend jaar", "school_year": "2031-2032", "branch": "Hoofd"}).json()
    for code in ("h3", "v3"):
        assert system.post(f"{API}/projects/{project['id']}/departments", token=admin, json={
            "code": code, "year_of_education": 3, "education": code,
            "home_class_authority": "portal"}).status_code == 201
    parts = [system.post(f"{API}/projects/{project['id']}/participations", token=admin, json={
        "student_number": "6101", "department": d, "forecast": f}).json()
        for d, f in (("h3", 50), ("v3", 50))]
    assert system.put(f"{API}/mentors/mentor1/classes", token=admin,
                      json={"home_classes": ["2a"]}).status_code == 200
    mentor = login(web(), "mentor1")
    page = mentor.get("/mentor")
    html = page.get_data(as_text=True)
    assert "Daan Berg" in html and f'id="prognose-{parts[0]["id"]}"' in html
    r = mentor.post(f"/mentor/deelnames/{parts[0]['id']}", data={
        "csrf_token": csrf(page), "forecast": "70", "home_class_editable": "1",
        "home_class": "h3a", "terug": "/mentor"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "hoogstens 100%" in html and 'value="70"' in html and 'aria-invalid="true"' in html
    r = mentor.post(f"/mentor/deelnames/{parts[0]['id']}", data={
        "csrf_token": csrf(page), "forecast": "40", "home_class_editable": "1",
        "home_class": "h3a", "terug": "//elders.example/"})
    assert r.status_code == 303 and r.headers["Location"].startswith("/mentor#")
    got = system.get(f"{API}/participations/{parts[0]['id']}", token=admin).json()
    assert (got["forecast"], got["home_class"]) == (40, "h3a")


def test_forms_and_buttons_show_the_apis_refusal(web, system, school):
    admin = login(web(), "beheer1", "Beheer-wachtwoord-1")
    page = admin.get("/projecten")
    r = admin.post("/projecten", data={"csrf_token": csrf(page), "name": "Rooster",
                                       "school_year": "2030", "branch": " Hoofd "})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="school_year-fout"' in html
    assert 'value="Hoofd"' in html  # typed values kept, stripped
    r = admin.post("/projecten", data={"csrf_token": csrf(page), "name": "Rooster",
                                       "school_year": "2030-2031", "branch": "Hoofd"})
    assert r.status_code == 303
    project = r.headers["Location"]
    page = admin.get(project)
    department = {"csrf_token": csrf(page), "code": "h3", "year_of_education": "3",
                  "education": "havo", "home_class_authority": "portal"}
    assert admin.post(f"{project}/afdelingen", data=department).status_code == 303
    r = admin.post(f"{project}/afdelingen", data=department)  # the same code again
    assert r.status_code == 409 and 'id="code-fout"' in r.get_data(as_text=True)
    # a button the API refuses: the refusal as an error notice, nothing archived
    r = admin.post("/gebruikers/beheer1/archiveren", data={"csrf_token": csrf(page)})
    assert r.status_code == 303
    html = admin.get(r.headers["Location"]).get_data(as_text=True)
    assert 'notice-error" role="status">U kunt uw eigen account niet archiveren.' in html
    r = admin.post("/gebruikers/rooster1/archiveren", data={"csrf_token": csrf(page)})
    html = admin.get(r.headers["Location"]).get_data(as_text=True)
    assert "Gebruiker rooster1 is gearchiveerd" in html
    # the pages a refused form comes back to open on their own as well
    for path in (f"{project}/toevoegen", f"{project}/afdelingen/h3/leerpaden", "/oso",
                 "/gebruikers/mentor1/stamklassen"):
        assert admin.get(path).status_code == 200, path
    r = admin.post(f"{project}/afdelingen/h3/leerpaden", data={
        "csrf_token": csrf(page), "code-0": "hv", "name-0": "", "element_code-0": ""})
    assert r.status_code == 422 and 'id="element_code-0-fout"' in r.get_data(as_text=True)
