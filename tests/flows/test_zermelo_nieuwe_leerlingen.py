"""zermelo-nieuwe-leerlingen.txt: new students, one by hand or imported from
the administration, then their participations (afdelingsdeelnames)."""
from tests.flows.conftest import API, NEXT_YEAR, ok, problem, wait_until


def test_een_nieuwe_leerling_toevoegen_en_een_afdelingsdeelname_geven(school):
    """Beheer > Gebruikers > Toevoegen, 'Toevoegen als leerling'; then
    Leerlingen > Overzicht > Toevoegen (the participation)."""
    api = school.api
    # a student's user code holds digits only
    problem(api.post(f"{API}/users", token=school.admin, json={
        "code": "ab12", "first_name": "Lotte", "last_name": "Bakker", "is_student": True}),
        422, "student_number_not_digits")
    user = ok(api.post(f"{API}/users", token=school.admin, json={
        "code": "123456", "first_name": "Lotte", "last_name": "Bakker", "is_student": True,
        "password": "Lotte-wachtwoord-1"}), 201)
    assert user["type"] == "student" and user["roles"] == ["student"]
    # the user is a student at once: a non-transfer record, searchable in the overview
    record = school.get("/students/123456")
    assert (record["type"], record["first_name"], record["status"]) == (
        "non_transfer", "Lotte", "active")
    assert school.get("/students?q=Bakker")["total"] == 1
    # "U kunt nu een afdelingsdeelname toevoegen bij de leerling."
    project = school.project_for(NEXT_YEAR, [("b1", 1, "portal")])
    part = school.place(project["id"], "123456", "b1", forecast=100)
    assert (part["student_number"], part["department"]) == ("123456", "b1")
    # adding the same number again as a student is a duplicate of the record, not of the user
    problem(api.post(f"{API}/students", token=school.admin, json={
        "student_number": "123456", "type": "non_transfer", "initials": "L.",
        "first_name": "Lotte", "last_name": "Bakker"}), 409, "student_exists")
    # later known as a potential transfer: the record gets the BSN
    changed = ok(api.patch(f"{API}/students/123456", token=school.admin, json={
        "type": "potential_transfer", "bsn": "100000009"}))
    assert changed["type"] == "potential_transfer" and changed["bsn"] == "*****0009"
    # an employee who becomes a student gets a record too
    ok(api.post(f"{API}/users", token=school.admin, json={
        "code": "654321", "first_name": "Mees", "last_name": "Smit"}), 201)
    problem(api.get(f"{API}/students/654321", token=school.admin), 404, "not_found")
    ok(api.patch(f"{API}/users/654321", token=school.admin, json={"type": "student"}))
    assert school.get("/students/654321")["type"] == "non_transfer"


USERS_CSV = ("leerlingnummer\tvoornaam\ttussenvoegsel\tachternaam\te-mail\n"
             "1001\tDaan\tvan den\tBerg\tdaan@school.nl\n"
             "1002\tZoë\t\tJansen\tzoe@school.nl\n"
             "1003\tAnna\t\tVisser\tanna@school.nl\n")
PARTICIPATIONS_CSV = ("leerlingcode;afdeling;Pr%;stamklas\n"
                      "1001;b1;100;b1a\n"
                      "1002;b1;;b1b\n"
                      "1003;b1;100;\n")


def test_nieuwe_leerlingen_importeren_uit_de_administratie_en_afdelingsdeelnames_importeren(
        school):
    """Beheer > Gebruikers > Importeren with 'Toevoegen als leerling', then
    Afdelingsdeelnames importeren, then the portal connector."""
    api = school.api
    # 1003 is already known, as an employee: not silently made a student
    ok(api.post(f"{API}/users", token=school.admin, json={
        "code": "1003", "first_name": "Anna", "last_name": "Visser"}), 201)
    imp, preview = school.csv_import(
        "users", USERS_CSV, {"0": "code", "1": "first_name", "2": "prefix", "3": "last_name",
                             "4": "email"}, as_students=True, mode="import")
    rows = {r["code"]: r for r in preview["rows"]}
    assert (rows["1001"]["action"], rows["1002"]["action"]) == ("create", "create")
    assert rows["1003"]["action"] == "error"
    (error,) = rows["1003"]["errors"]
    assert (error["code"], error["row"], error["column"]) == ("user_not_student", 4,
                                                              "leerlingnummer")
    assert "medewerker" in error["message"]
    result = school.commit(imp["id"])
    assert result["counts"]["created"] == 2 and result["counts"]["failed"] == 1
    assert result["students"] == {"registered": 2, "deferred": False}
    # the imported users are students now (GET /students answered 404 before)
    for number, first in (("1001", "Daan"), ("1002", "Zoë")):
        record = school.get(f"/students/{number}")
        assert (record["first_name"], record["type"]) == (first, "non_transfer")
    problem(api.get(f"{API}/students/1003", token=school.admin), 404, "not_found")

    # the next step of the manual: their departments for next year
    project = school.project_for(NEXT_YEAR, [("b1", 1, "portal")])
    imp, preview = school.csv_import(
        "participations", PARTICIPATIONS_CSV,
        {"0": "student_number", "1": "department", "2": "forecast", "3": "home_class"},
        mode="import", project_id=project["id"])
    rows = {r["code"]: r for r in preview["rows"]}
    assert (rows["1001"]["action"], rows["1002"]["action"]) == ("create", "create")
    assert rows["1003"]["errors"][0]["code"] == "student_unknown"   # the employee
    result = school.commit(imp["id"])
    assert result["counts"]["created"] == 2
    placed = {p["student_number"]: p for p in school.participations(project["id"])}
    assert (placed["1001"]["forecast"], placed["1001"]["home_class"]) == (100, "b1a")
    assert placed["1002"]["home_class"] == "b1b"

    # the history of imports: who, when, what, counts, status
    history = school.get("/imports")["items"]
    assert [(h["kind"], h["status"]) for h in history] == [("participations", "committed"),
                                                          ("users", "committed")]
    assert history[1]["created_by"] == "beheer1" and history[1]["mode"] == "import"
    assert history[1]["counts"]["created"] == 2 and history[0]["counts"]["created"] == 2
    # participations listed by student
    mine = school.get("/students/1001/participations")["items"]
    assert [(p["department"], p["forecast"]) for p in mine] == [("b1", 100)]

    # the connector: the desktop knows 1001 already; 1002 is to be added, nobody removed
    ok(school.sync("PUT", project["id"], "snapshot", json={
        "students": [{"student_number": "1001", "first_name": "Daan", "prefix": "van den",
                      "last_name": "Berg", "email": "daan@school.nl"}],
        "participations": [{"student_number": "1001", "department": "b1", "forecast": 100,
                            "home_class": "b1a"}]}))
    status = ok(school.sync("GET", project["id"], "status"))
    assert status["students"]["differences"] == 1
    (item,) = ok(school.sync("GET", project["id"], "differences/students"))["items"]
    assert (item["student_number"], item["action"]) == ("1002", "add")
    download = ok(school.sync("POST", project["id"], "download/students", json={}))
    assert [c["action"] for c in download["changes"]] == ["add"]
    assert ok(school.sync("GET", project["id"], "status"))["students"]["status"] == "ok"


def test_een_import_ongedaan_maken_neemt_de_leerlingen_mee(school):
    """An undone import of new students removes their accounts and, with
    them, their student records."""
    imp, _preview = school.csv_import(
        "users", USERS_CSV, {"0": "code", "1": "first_name", "3": "last_name"},
        as_students=True, mode="import")
    school.commit(imp["id"])
    assert school.get("/students?page_size=10")["total"] == 3
    undone = ok(school.api.post(f"{API}/imports/{imp['id']}/undo", token=school.admin))
    assert undone["counts"]["removed"] == 3
    wait_until(lambda: school.get("/students?page_size=10")["total"] == 0, timeout=20)
