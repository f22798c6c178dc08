"""CSV imports from the administration through the gateway, against the real
users and students services: columns and suggestions, preview per mode,
commit exactly what the preview showed, second commit a no-op, undo, the
archive guard, participations."""
import pytest
import sqlalchemy as sa

from services.common.db import make_engine
from tests.helpers import wait_until
from tests.uploads.conftest import API, problem

ZERMELO = ("code\tfirstName\tprefix\tlastName\temail\n"
           "1001\tDaan\tvan den\tBerg\tdaan@school.nl\n"
           "1002\tZoë\t\tJansen\tzoe@school.nl\n"
           '1003\tAnna\t\tVisser\tanna@school.nl\n')


def upload(api, token, content, kind="users", **form):
    return api.post(f"{API}/imports", token=token, data={"kind": kind, **form},
                    files={"file": ("export.csv", content, "text/csv")})


def mapping(api, token, import_id, columns, **options):
    return api.put(f"{API}/imports/{import_id}/mapping", token=token,
                   json={"columns": columns, **options})


def suggested(imp):
    return {str(c["index"]): c["suggested_field"] for c in imp["columns"]}


def users_of(api, token, q=""):
    return {u["code"]: u for u in api.get(f"{API}/users?page_size=500&filter=all&q={q}",
                                          token=token).json()["items"]}


def test_users_import_preview_commit_twice_and_undo(system, school):
    _inst, admin = school
    r = upload(system, admin, ZERMELO.encode("utf-8"))
    assert r.status_code == 201, r.text
    imp = r.json()
    assert imp["delimiter"] == "tab" and imp["encoding"] == "utf-8"
    assert [c["header"] for c in imp["columns"]] == ["code", "firstName", "prefix", "lastName",
                                                     "email"]
    assert suggested(imp) == {"0": "code", "1": "first_name", "2": "prefix", "3": "last_name",
                              "4": "email"}
    # as students: digits-only codes; the preview shows what will happen
    r = mapping(system, admin, imp["id"], suggested(imp), as_students=True, mode="import")
    assert r.status_code == 200, r.text
    preview = r.json()
    assert preview["counts"]["create"] == 3
    first = preview["rows"][0]
    assert first["action"] == "create" and first["changes"]["first_name"] == [None, "Daan"]
    r = system.post(f"{API}/imports/{imp['id']}/commit", token=admin)
    assert r.status_code == 200, r.text
    assert r.json()["counts"]["created"] == 3
    users = users_of(system, admin)
    assert users["1002"]["first_name"] == "Zoë" and users["1002"]["type"] == "student"
    # a second commit changes nothing
    again = system.post(f"{API}/imports/{imp['id']}/commit", token=admin)
    assert again.status_code == 200 and again.json()["counts"]["created"] == 3
    assert len(users_of(system, admin)) == 4  # admin + 3
    assert system.get(f"{API}/imports/{imp['id']}", token=admin).json()["status"] == "committed"

    # update mode from a Windows-1252 file with ';': old -> new per field
    cp = ("Leerlingnummer;Voornaam;Achternaam;E-mailadres\r\n"
          "1001;Daan;Berg;daan.berg@school.nl\r\n"
          "1002;Zoë;Jansen;zoe@school.nl\r\n"
          "1009;Bénédicte;Nieuw;b@school.nl\r\n").encode("cp1252")
    r = upload(system, admin, cp)
    upd = r.json()
    assert upd["delimiter"] == ";" and upd["encoding"] == "windows-1252"
    assert suggested(upd) == {"0": "code", "1": "first_name", "2": "last_name", "3": "email"}
    preview = mapping(system, admin, upd["id"], suggested(upd), mode="update").json()
    actions = {row["code"]: row for row in preview["rows"]}
    assert actions["1001"]["action"] == "update"
    assert actions["1001"]["changes"] == {"email": ["daan@school.nl", "daan.berg@school.nl"]}
    assert actions["1002"]["action"] == "unchanged"
    assert actions["1009"]["action"] == "unchanged"  # update makes no new users
    r = system.post(f"{API}/imports/{upd['id']}/commit", token=admin)
    assert r.json()["counts"] == {"created": 0, "updated": 1, "unchanged": 2, "archived": 0,
                                  "failed": 0}
    assert users_of(system, admin)["1001"]["email"] == "daan.berg@school.nl"

    # undo restores what the commit changed, where untouched since
    r = system.post(f"{API}/imports/{upd['id']}/undo", token=admin)
    assert r.status_code == 200, r.text
    assert r.json()["counts"]["restored"] == 1
    assert users_of(system, admin)["1001"]["email"] == "daan@school.nl"
    # the first import: 1003 was changed since, and 1001 by the update and its undo,
    # so they stay; 1002 goes
    assert system.patch(f"{API}/users/1003", token=admin,
                        json={"city": "Apeldoorn"}).status_code == 200
    r = system.post(f"{API}/imports/{imp['id']}/undo", token=admin)
    assert r.json()["counts"]["removed"] == 1
    assert sorted(r.json()["skipped"]) == ["1001", "1003"]
    assert set(users_of(system, admin)) == {"beheer1", "1001", "1003"}
    again = system.post(f"{API}/imports/{imp['id']}/undo", token=admin)
    assert again.status_code == 200 and again.json()["repeated"] is True
    assert set(users_of(system, admin)) == {"beheer1", "1001", "1003"}


def test_commit_refuses_when_records_changed_since_the_preview(system, school):
    _inst, admin = school
    seed = upload(system, admin, ZERMELO.encode()).json()
    mapping(system, admin, seed["id"], suggested(seed), as_students=True)
    system.post(f"{API}/imports/{seed['id']}/commit", token=admin)
    changed = ('code,firstName,lastName\n1001,Daniël,Berg\n1002,Zoë,"Jansen, Smit"\n'
               "1004,Sem,Nieuw\n").encode()
    imp = upload(system, admin, changed).json()
    assert imp["delimiter"] == ","
    preview = mapping(system, admin, imp["id"], suggested(imp), mode="sync",
                      as_students=True).json()
    assert preview["counts"] == {"create": 1, "update": 2, "unchanged": 0, "archive": 0,
                                 "error": 0}
    # somebody edits 1002 between preview and commit
    assert system.patch(f"{API}/users/1002", token=admin,
                        json={"last_name": "Anders"}).status_code == 200
    problem(system.post(f"{API}/imports/{imp['id']}/commit", token=admin), 409,
            "import_changed")
    assert "1004" not in users_of(system, admin)  # nothing applied
    preview = mapping(system, admin, imp["id"], suggested(imp), mode="sync",
                      as_students=True).json()
    row = next(r for r in preview["rows"] if r["code"] == "1002")
    assert row["changes"] == {"last_name": ["Anders", "Jansen, Smit"]}
    r = system.post(f"{API}/imports/{imp['id']}/commit", token=admin)
    assert r.status_code == 200 and r.json()["counts"]["created"] == 1


def test_row_errors_and_mapping_errors(system, school):
    _inst, admin = school
    content = ("code;voornaam;achternaam;postcode;geslacht\n"
               "12ab;Piet;Jansen;1234AB;M\n"
               "2001;Kees;;1234 AB;M\n"
               "2002;Jan;Smit;99;Q\n"
               "2003;Els;Bos;1234ab;vrouw\n"
               "2003;Els;Bos;1234ab;V\n").encode()
    imp = upload(system, admin, content).json()
    cols = suggested(imp)
    assert cols == {"0": "code", "1": "first_name", "2": "last_name", "3": "postcode",
                    "4": "gender"}
    body = problem(mapping(system, admin, imp["id"], {**cols, "4": "first_name"}), 422,
                   "field_mapped_twice")
    problem(mapping(system, admin, imp["id"], {"1": "first_name"}), 422, "key_column_required")
    problem(mapping(system, admin, imp["id"], cols, mode="merge"), 422, "choice_invalid")
    problem(mapping(system, admin, imp["id"], cols, mode="import", archive_missing=True), 422,
            "archive_missing_needs_sync")
    preview = mapping(system, admin, imp["id"], cols, as_students=True).json()
    by_row = {r["row"]: r for r in preview["rows"]}
    assert [e["code"] for e in by_row[2]["errors"]] == ["student_number_not_digits"]
    assert [e["code"] for e in by_row[3]["errors"]] == ["required"]
    assert sorted(e["code"] for e in by_row[4]["errors"]) == ["gender_invalid",
                                                              "postcode_invalid"]
    assert by_row[5]["action"] == "create", by_row[5]["errors"]
    assert by_row[5]["changes"]["gender"] == [None, "V"]
    assert [e["code"] for e in by_row[6]["errors"]] == ["duplicate_row"]
    assert preview["counts"]["error"] == 4 and preview["counts"]["create"] == 1
    r = system.post(f"{API}/imports/{imp['id']}/commit", token=admin)
    assert r.json()["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "archived": 0,
                                  "failed": 4}
    assert body["errors"][0]["field"] == "columns.4"


def test_sync_archives_missing_students_behind_the_ten_percent_guard(system, school):
    _inst, admin = school
    lines = ["code;voornaam;achternaam"] + [f"{3000 + i};Kind{i};Achter" for i in range(20)]
    seed = upload(system, admin, "\n".join(lines).encode()).json()
    mapping(system, admin, seed["id"], suggested(seed), as_students=True)
    assert system.post(f"{API}/imports/{seed['id']}/commit", token=admin).status_code == 200
    # three of twenty gone from the export: 15% > 10%
    imp = upload(system, admin, "\n".join(lines[:-3]).encode()).json()
    body = problem(mapping(system, admin, imp["id"], suggested(imp), mode="sync",
                           as_students=True, archive_missing=True), 409, "archive_guard")
    assert "3 van de 20" in body["detail"]
    preview = mapping(system, admin, imp["id"], suggested(imp), mode="sync", as_students=True,
                      archive_missing=True, force=True).json()
    assert preview["counts"]["archive"] == 3 and preview["counts"]["unchanged"] == 17
    r = system.post(f"{API}/imports/{imp['id']}/commit", token=admin)
    assert r.json()["counts"]["archived"] == 3
    archived = system.get(f"{API}/users?filter=archived", token=admin).json()
    assert {u["code"] for u in archived["items"]} == {"3017", "3018", "3019"}
    # two of twenty (10%) is allowed without force; undo brings the three back
    r = system.post(f"{API}/imports/{imp['id']}/undo", token=admin)
    assert r.json()["counts"]["unarchived"] == 3
    assert system.get(f"{API}/users?filter=archived", token=admin).json()["total"] == 0
    imp = upload(system, admin, "\n".join(lines[:-2]).encode()).json()
    preview = mapping(system, admin, imp["id"], suggested(imp), mode="sync", as_students=True,
                      archive_missing=True)
    assert preview.status_code == 200 and preview.json()["counts"]["archive"] == 2


def test_participations_import(system, school):
    _inst, admin = school
    project = system.post(f"{API}/projects", token=admin, json={
        "name": "Rooster 2026-2027", "school_year": "2026-2027", "branch": "01"})
    assert project.status_code == 201, project.text
    pid = project.json()["id"]
    r = system.post(f"{API}/projects/{pid}/departments", token=admin, json={
        "code": "h4", "year_of_education": 4, "education": "havo",
        "home_class_authority": "portal"})
    assert r.status_code == 201, r.text
    for number in ("5001", "5002", "5003"):
        r = system.post(f"{API}/students", token=admin, json={
            "student_number": number, "type": "non_transfer", "initials": "A.",
            "first_name": "Ali", "last_name": f"Leerling{number}"})
        assert r.status_code == 201, r.text
    r = system.post(f"{API}/projects/{pid}/participations", token=admin,
                    json={"student_number": "5003", "department": "h4"})
    assert r.status_code == 201, r.text
    content = ("leerlingcode\tafdeling\tPr%\tstamklas\tprofiel\n"
               "5001\th4\t80\th4a\tNT\n"
               "5002\tv9\t\t\t\n"
               "5003\th4\t100\th4b\t\n"
               "5999\th4\t\t\t\n").encode()
    imp = upload(system, admin, content, kind="participations").json()
    cols = suggested(imp)
    assert cols == {"0": "student_number", "1": "department", "2": "forecast",
                    "3": "home_class", "4": "profile"}
    problem(mapping(system, admin, imp["id"], cols), 422, "required")  # project_id
    preview = mapping(system, admin, imp["id"], cols, project_id=pid).json()
    by_code = {r["code"]: r for r in preview["rows"]}
    assert by_code["5001"]["action"] == "create"
    assert by_code["5001"]["changes"]["forecast"] == [None, 80]
    assert [e["code"] for e in by_code["5002"]["errors"]] == ["department_unknown"]
    assert by_code["5003"]["action"] == "unchanged"  # has one: reported, not changed
    assert [e["code"] for e in by_code["5999"]["errors"]] == ["student_unknown"]
    r = system.post(f"{API}/imports/{imp['id']}/commit", token=admin)
    assert r.status_code == 200, r.text
    assert r.json()["counts"] == {"created": 1, "updated": 0, "unchanged": 1, "archived": 0,
                                  "failed": 2}
    parts = system.get(f"{API}/projects/{pid}/participations", token=admin).json()
    placed = {p["student_number"]: p for p in parts["items"]}
    assert placed["5001"]["forecast"] == 80 and placed["5001"]["home_class"] == "h4a"
    assert placed["5003"]["home_class"] is None  # untouched
    r = system.post(f"{API}/imports/{imp['id']}/undo", token=admin)
    assert r.json()["counts"]["removed"] == 1
    parts = system.get(f"{API}/projects/{pid}/participations", token=admin).json()
    assert [p["student_number"] for p in parts["items"]] == ["5003"]


def test_participations_import_of_students_in_several_departments(system, school):
    _inst, admin = school
    pid = system.post(f"{API}/projects", token=admin, json={
        "name": "Rooster 2026-2027", "school_year": "2026-2027", "branch": "01"}).json()["id"]
    for code in ("h4", "v4"):
        r = system.post(f"{API}/projects/{pid}/departments", token=admin, json={
            "code": code, "year_of_education": 4, "education": code[0],
            "home_class_authority": "portal"})
        assert r.status_code == 201, r.text
    for number in ("6001", "6002", "6003", "6004", "6005", "6006"):
        r = system.post(f"{API}/students", token=admin, json={
            "student_number": number, "type": "non_transfer", "initials": "A.",
            "first_name": "Ali", "last_name": f"Leerling{number}"})
        assert r.status_code == 201, r.text
    r = system.post(f"{API}/projects/{pid}/participations", token=admin,
                    json={"student_number": "6004", "department": "h4", "forecast": 70})
    assert r.status_code == 201, r.text
    content = ("leerlingcode;afdeling;Pr%\n"
               "6001;h4;60\n"      # line 2: 6001 60% h4 ...
               "6002;h4;70\n"      # 3
               "6001;v4;40%\n"     # 4: ... and 40% v4
               "6002;v4;50\n"      # 5: 70 + 50 > 100
               "6003;h4;\n"        # 6: two rows, the first without a forecast
               "6003;v4;50\n"      # 7
               "6004;v4;30\n"      # 8: has a participation: left alone
               "6005;h4;50\n"      # 9
               "6005;h4;50\n"      # 10: the same department twice
               "6006;h4;50\n"      # 11
               "6006;v4;abc\n"     # 12: a bad forecast: 6006 is not placed at all
               ).encode()
    imp = upload(system, admin, content, kind="participations").json()
    preview = mapping(system, admin, imp["id"], suggested(imp), project_id=pid).json()
    rows = {r["row"]: r for r in preview["rows"]}

    def codes(line):
        return [e["code"] for e in rows[line]["errors"]]

    assert rows[2]["action"] == "create" and rows[4]["action"] == "create"
    assert rows[4]["changes"]["forecast"] == [None, 40]
    assert codes(3) == codes(5) == ["forecast_total_exceeded"]
    assert "120%" in rows[3]["errors"][0]["message"]
    assert rows[3]["errors"][0]["column"] == "Pr%"
    assert codes(6) == ["forecast_required"] and codes(7) == ["other_row_invalid"]
    assert rows[8]["action"] == "unchanged"
    assert codes(10) == ["duplicate_row"] and "regel 9" in rows[10]["errors"][0]["message"]
    assert codes(9) == ["other_row_invalid"]
    assert codes(12) == ["forecast_invalid"] and codes(11) == ["other_row_invalid"]
    assert preview["counts"]["create"] == 2 and preview["counts"]["unchanged"] == 1
    r = system.post(f"{API}/imports/{imp['id']}/commit", token=admin)
    assert r.status_code == 200, r.text
    assert r.json()["counts"]["created"] == 2 and r.json()["counts"]["unchanged"] == 1
    parts = system.get(f"{API}/projects/{pid}/participations", token=admin).json()["items"]
    assert sorted((p["student_number"], p["department"], p["forecast"]) for p in parts) == [
        ("6001", "h4", 60), ("6001", "v4", 40), ("6004", "h4", 70)]


def test_not_a_csv_and_tenancy(system, school):
    inst, admin = school
    problem(upload(system, admin, b"PK\x03\x04rest"), 415, "not_csv")
    problem(upload(system, admin, b"code;naam\n1;x\n", encoding="klingon"), 422,
            "encoding_invalid")
    imp = upload(system, admin, b"code;naam\n1;x\n").json()
    from tests.uploads.conftest import make_admin, make_institution
    other = make_institution(system, brin="01CD", name="Ander College")
    other_admin = make_admin(system, other, code="beheer2")
    problem(system.get(f"{API}/imports/{imp['id']}", token=other_admin), 404, "not_found")
    problem(system.post(f"{API}/imports/{imp['id']}/commit", token=other_admin), 404,
            "not_found")
    problem(system.post(f"{API}/imports/{imp['id']}/commit", token=admin), 409,
            "preview_required")
    engine = make_engine(system.config["UPLOADS_DATABASE_URL"])
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT institution_id FROM imports")).scalar() == inst["id"]
    engine.dispose()


def test_import_history_newest_first_with_who_when_mode_and_counts(system, school):
    inst, admin = school
    # one committed, one previewed only, one just uploaded
    first = upload(system, admin, ZERMELO.encode("utf-8")).json()
    assert mapping(system, admin, first["id"], suggested(first), as_students=True,
                   mode="import").status_code == 200
    assert system.post(f"{API}/imports/{first['id']}/commit", token=admin).status_code == 200
    second = upload(system, admin, ("code\tfirstName\tlastName\n1001\tDaan\tBergh\n"
                                    "1004\tEva\tDekker\n9x\t\tLeeg\n").encode("utf-8")).json()
    r = mapping(system, admin, second["id"], suggested(second), mode="sync")
    assert r.status_code == 200, r.text
    third = upload(system, admin, b"code;naam\n1;x\n").json()

    r = system.get(f"{API}/imports", token=admin)
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == 3 and page["page"] == 1 and page["page_size"] == 50
    assert [i["id"] for i in page["items"]] == [third["id"], second["id"], first["id"]]
    newest, previewed, committed = page["items"]
    assert newest["status"] == "uploaded" and newest["mode"] is None
    assert newest["counts"] is None and newest["counts_from"] is None
    assert previewed["status"] == "previewed" and previewed["mode"] == "sync"
    assert previewed["counts_from"] == "preview" and previewed["committed_at"] is None
    assert previewed["counts"] == {"created": 1, "updated": 1, "unchanged": 0, "archived": 0,
                                   "failed": 1}
    assert committed == {**committed, "kind": "users", "status": "committed", "mode": "import",
                         "as_students": True, "filename": "export.csv", "row_count": 3,
                         "created_by": "beheer1", "counts_from": "result", "undone_at": None,
                         "counts": {"created": 3, "updated": 0, "unchanged": 0,
                                    "archived": 0, "failed": 0}}
    assert committed["created_at"] <= committed["previewed_at"] <= committed["committed_at"]

    # undone: still listed, with what the undo did
    assert system.post(f"{API}/imports/{first['id']}/undo", token=admin).status_code == 200
    undone = system.get(f"{API}/imports?status=undone", token=admin).json()
    assert [i["id"] for i in undone["items"]] == [first["id"]] and undone["total"] == 1
    assert undone["items"][0]["undone_at"] and undone["items"][0]["undo_counts"]["removed"] == 3
    assert undone["items"][0]["counts"]["created"] == 3
    # filters and paging
    assert system.get(f"{API}/imports?kind=participations", token=admin).json()["total"] == 0
    two = system.get(f"{API}/imports?page=2&page_size=2", token=admin).json()
    assert [i["id"] for i in two["items"]] == [first["id"]] and two["total"] == 3
    b = problem(system.get(f"{API}/imports?status=klaar", token=admin), 422)
    assert b["errors"][0]["field"] == "status"
    # helpdesk names the institution; another school's admin sees nothing of it
    problem(system.get(f"{API}/imports"), 422, "institution_id_required")
    assert system.get(f"{API}/imports?institution_id={inst['id']}").json()["total"] == 3
    from tests.uploads.conftest import make_admin, make_institution
    other_admin = make_admin(system, make_institution(system, brin="01CD", name="Ander"),
                             code="beheer2")
    assert system.get(f"{API}/imports", token=other_admin).json()["total"] == 0
    problem(system.get(f"{API}/imports?institution_id={inst['id']}", token=other_admin), 404)
    # in the OpenAPI document
    spec = system.get("/openapi.json").json()
    assert "ImportPage" in spec["components"]["schemas"]
    assert "get" in spec["paths"]["/api/v1/imports"]


def big_users_csv(n, start=200000):
    lines = ["leerlingnummer;voornaam;achternaam;email"]
    lines += [f"{start + i};Leerling{i};Achter{i};l{start + i}@school.nl" for i in range(n)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_preview_rows_are_paged_and_the_answer_can_leave_them_out(system, school):
    _inst, admin = school
    text = ("code;voornaam;achternaam\n" + "".join(f"{3000 + i};Eva{i};Dekker\n"
                                                   for i in range(25))
            + "12x;Fout;Code\n")
    imp = upload(system, admin, text.encode("utf-8")).json()
    problem(system.get(f"{API}/imports/{imp['id']}/rows", token=admin), 409, "preview_required")
    r = system.put(f"{API}/imports/{imp['id']}/mapping?preview_rows=3", token=admin,
                   json={"columns": suggested(imp), "as_students": True, "mode": "import"})
    assert r.status_code == 200, r.text
    preview = r.json()
    assert len(preview["rows"]) == 3 and preview["total"] == 26
    assert preview["counts"] == {"create": 25, "update": 0, "unchanged": 0, "archive": 0,
                                 "error": 1}
    # the import without its rows, with its counts
    got = system.get(f"{API}/imports/{imp['id']}?preview_rows=0", token=admin).json()
    assert got["preview"]["rows"] == [] and got["preview"]["counts"]["create"] == 25
    assert got["progress"] == {"done": 0, "total": 0} and got["problem"] is None
    assert got["sample"] == []
    again = system.get(f"{API}/imports/{imp['id']}?preview_rows=0&sample_rows=2",
                       token=admin).json()
    assert again["sample"] == [["3000", "Eva0", "Dekker"], ["3001", "Eva1", "Dekker"]]
    assert len(system.get(f"{API}/imports/{imp['id']}", token=admin).json()["preview"]["rows"]) \
        == 26
    # paging, and one action at a time
    page = system.get(f"{API}/imports/{imp['id']}/rows?page=3&page_size=10", token=admin).json()
    assert (page["total"], page["page"], len(page["items"])) == (26, 3, 6)
    assert page["items"][-1]["action"] == "error"
    errors = system.get(f"{API}/imports/{imp['id']}/rows?action=error", token=admin).json()
    assert errors["total"] == 1 and errors["items"][0]["row"] == 27
    assert errors["items"][0]["errors"][0]["code"] == "student_number_not_digits"
    b = problem(system.get(f"{API}/imports/{imp['id']}/rows?action=alles", token=admin), 422)
    assert b["errors"][0]["field"] == "action"
    spec = system.get("/openapi.json").json()
    assert "get" in spec["paths"]["/api/v1/imports/{import_id}/rows"]
    assert "202" in spec["paths"]["/api/v1/imports/{import_id}/commit"]["post"]["responses"]


@pytest.mark.pg
def test_commit_in_the_background_with_progress_then_undo(system, school):
    _inst, admin = school
    imp = upload(system, admin, big_users_csv(1200)).json()
    problem(system.post(f"{API}/imports/{imp['id']}/commit?async=true", token=admin), 409,
            "preview_required")
    assert mapping(system, admin, imp["id"], suggested(imp), as_students=True,
                   mode="sync").status_code == 200
    r = system.post(f"{API}/imports/{imp['id']}/commit?async=true", token=admin)
    assert r.status_code == 202, r.text
    started = r.json()
    assert started["status"] == "committing" and started["progress"] == {"done": 0,
                                                                          "total": 1200}
    assert started["preview"]["rows"] == []
    # while it runs: no second preview, no undo; the synchronous commit says it runs
    seen = []

    def committed():
        got = system.get(f"{API}/imports/{imp['id']}?preview_rows=0", token=admin).json()
        seen.append((got["status"], got["progress"]["done"]))
        return got if got["status"] != "committing" else None
    during = system.put(f"{API}/imports/{imp['id']}/mapping", token=admin,
                        json={"columns": suggested(imp), "mode": "sync"})
    if during.status_code == 409:
        assert during.json()["code"] in ("import_committing", "import_committed")
    done = wait_until(committed, timeout=120, interval=0.3)
    assert done["status"] == "committed", (done["problem"], done["progress"])
    assert done["progress"] == {"done": 1200, "total": 1200}
    assert done["result"]["counts"] == {"created": 1200, "updated": 0, "unchanged": 0,
                                        "archived": 0, "failed": 0}
    assert done["result"]["students"]["registered"] == 1200
    progress = [d for s, d in seen if s == "committing"]
    assert progress == sorted(progress)  # it only moves forward
    listed = system.get(f"{API}/users?filter=students&page_size=1&q=Achter", token=admin)
    assert listed.json()["total"] == 1200
    # again: answers the committed import, changes nothing
    again = system.post(f"{API}/imports/{imp['id']}/commit?async=true", token=admin)
    assert again.status_code == 202 and again.json()["status"] == "committed"
    assert system.post(f"{API}/imports/{imp['id']}/commit", token=admin).json()["counts"][
        "created"] == 1200
    history = system.get(f"{API}/imports?status=committed", token=admin).json()
    assert history["items"][0]["id"] == imp["id"]
    undone = system.post(f"{API}/imports/{imp['id']}/undo", token=admin)
    assert undone.status_code == 200 and undone.json()["counts"]["removed"] == 1200


def test_background_commit_stops_when_records_changed_since_the_preview(system, school):
    _inst, admin = school
    imp = upload(system, admin, ZERMELO.encode("utf-8")).json()
    assert mapping(system, admin, imp["id"], suggested(imp), mode="sync").status_code == 200
    # meanwhile someone adds user 1002 by hand
    r = system.post(f"{API}/users", token=admin, json={"code": "1002", "first_name": "Zoë",
                                                      "last_name": "Jansen"})
    assert r.status_code == 201, r.text
    assert system.post(f"{API}/imports/{imp['id']}/commit?async=true",
                       token=admin).status_code == 202

    def stopped():
        got = system.get(f"{API}/imports/{imp['id']}", token=admin).json()
        return got if got["status"] != "committing" else None
    got = wait_until(stopped, timeout=30, interval=0.2)
    assert got["status"] == "uploaded"
    assert got["problem"]["code"] == "import_changed" and "voorvertoning" in \
        got["problem"]["message"]
    assert "1001" not in users_of(system, admin)  # nothing applied
    # previewed again, it goes through
    assert mapping(system, admin, imp["id"], suggested(imp), mode="sync").status_code == 200
    assert system.get(f"{API}/imports/{imp['id']}", token=admin).json()["problem"] is None
