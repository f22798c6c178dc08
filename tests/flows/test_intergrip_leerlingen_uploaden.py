"""intergrip-leerlingen-uploaden.md: a student list sent through the portal
(steps 1-5), reviewed by the helpdesk and loaded; through leerlinglijst.nl
with the upload code; one student added by hand."""
import io

from openpyxl import load_workbook

from services.uploads import columns as colspec
import pytest

from tests.flows.conftest import API, NEXT_YEAR, ok, problem, wait_until
from tests.uploads import xlsxfactory as xf
from tests.uploads.test_helpdesk_notice import notices_of, set_account_email

NAMES = (("Mesut", "Özil"), ("Ayşe", "Çelik"), ("Daniëlle", "de Vries"))
FORM = {"school_type": "vo", "student_type": "potential_transfer", "name": "Janneke Wolff",
        "email": "j.wolff@school.nl", "note": "Nieuwe brugklassers"}


@pytest.fixture
def service_config(service_config):
    config = dict(service_config)
    config.pop("LEERLINGBUS_SMTP_HOST", None)   # mails land in <data dir>/outbox as .eml
    return config


def rows_with_accents():
    rows = []
    for i, (first, last) in enumerate(NAMES, 1):
        row = xf.student_row(i)
        row["Voornaam"], row["Achternaam"] = first, last
        row["Voorletters"] = first[0] + "."
        row["Afdeling"] = "b1" if "Afdeling" in row else None
        rows.append(row)
    return rows


def status_of(api, token, upload_id, leave=("validating",), timeout=30):
    def done():
        body = ok(api.get(f"{API}/uploads/{upload_id}", token=token))
        return body if body["status"] not in leave else None
    return wait_until(done, timeout=timeout, interval=0.2)


def send(api, token, content, path="/uploads", **form):
    return api.post(f"{API}{path}", token=token, data={**FORM, **form},
                    files={"file": ("leerlingen.xlsx", content, "application/octet-stream")})


def test_leerlingen_uploaden_via_portaal_beoordelen_en_vinden(school):
    """Steps 1-5, the verdict with errors, the corrected file, review by the
    helpdesk with a project, and the students found with or without accents."""
    api = school.api
    # step 3: the template whose column titles the upload demands
    r = api.get(f"{API}/uploads/template?school_type=vo&student_type=potential_transfer",
                token=school.admin)
    assert r.status_code == 200
    titles = [c.value for c in load_workbook(io.BytesIO(r.content))[colspec.SHEET_TITLE][1]
              if c.value]
    assert titles[:2] == ["Leerlingnummer", "BSN"]
    # step 4: send it; one row has a BSN that fails the 11-proef
    rows = rows_with_accents()
    rows[1]["BSN"] = "123456789"
    first = ok(send(api, school.admin, xf.make_list(rows)), 202)
    verdict = status_of(api, school.admin, first["id"])
    assert verdict["status"] == "rejected"
    (error,) = verdict["errors"]
    assert (error["row"], error["column"], error["code"]) == (3, "BSN", "bsn_invalid")
    report = api.get(f"{API}/uploads/{first['id']}/report.xlsx", token=school.admin)
    assert report.status_code == 200 and report.content[:2] == b"PK"
    # step 5: the corrected file (the helpdesk's account has an address for its notices)
    set_account_email(api, "helpdesk@leerlingbus.example.nl")
    rows[1]["BSN"] = xf.bsns(1, start=77_000_000)[0]
    second = ok(send(api, school.admin, xf.make_list(rows)), 202)
    assert status_of(api, school.admin, second["id"])["status"] == "awaiting_review"
    assert {u["id"]: u["status"] for u in ok(api.get(f"{API}/uploads", token=school.admin))[
        "items"]} == {first["id"]: "rejected", second["id"]: "awaiting_review"}

    # the helpdesk hears of it, once, and finds it in the review queue
    (notice,) = wait_until(lambda: notices_of(api, second["id"]), timeout=20)
    assert notice["To"] == "helpdesk@leerlingbus.example.nl"
    assert "Het Lyceum" in notice.get_content() and f"/uploads/{second['id']}" in \
        notice.get_content()
    assert notices_of(api, first["id"]) == []        # a rejected list waits for nobody
    queue = ok(api.get(f"{API}/uploads?status=awaiting_review"))["items"]
    assert [u["id"] for u in queue] == [second["id"]]
    project = school.project_for(NEXT_YEAR, [("b1", 1, "portal")])
    iid = school.institution["id"]
    projects = ok(api.get(f"{API}/projects?institution_id={iid}"))["items"]
    assert [p["id"] for p in projects] == [project["id"]]
    ok(api.post(f"{API}/uploads/{second['id']}/approve", json={"project_id": project["id"]}))
    loaded = status_of(api, school.admin, second["id"], leave=("awaiting_review", "loading"))
    assert (loaded["status"], loaded["loaded"]) == ("loaded", 3)

    # the school finds its students, however the name is typed
    for q, expected in (("ozil", "Özil"), ("ÖZIL", "Özil"), ("Özil", "Özil"),
                        ("celik", "Çelik"), ("danielle", "Daniëlle")):
        found = ok(api.get(f"{API}/students?q={q}", token=school.admin))["items"]
        assert len(found) == 1, (q, found)
        assert expected in (found[0]["first_name"], found[0]["last_name"])
        users = ok(api.get(f"{API}/users?q={q}", token=school.admin))["items"]
        assert [u["code"] for u in users] == [found[0]["student_number"]], q


def test_een_lijst_van_een_andere_schoolsoort_wordt_geweigerd(school):
    body = problem(send(school.api, school.admin,
                        xf.make_list([xf.student_row(1, school_type="mbo")], school_type="mbo"),
                        school_type="mbo"), 422, "school_type_mismatch")
    assert "VO-school" in body["detail"] and "MBO" in body["detail"]
    assert body["errors"][0]["field"] == "school_type"


def test_leerlingen_uploaden_via_leerlinglijst_nl(school):
    """Without logging in, with the school's upload code: the school type is
    chosen on the page (step 1), then the same steps."""
    api = school.api
    iid = school.institution["id"]
    code = ok(api.post(f"{API}/institutions/{iid}/upload-code"))["upload_code"]
    rows = [xf.student_row(i) for i in range(1, 4)]
    r = api.request("POST", f"{API}/public/uploads", token="",
                    data={**FORM, "upload_code": code},
                    files={"file": ("lijst.xlsx", xf.make_list(rows), "application/octet-stream")})
    accepted = ok(r, 202)
    assert set(accepted) <= {"id", "status", "progress"}   # reveals nothing of the school
    assert status_of(api, school.admin, accepted["id"])["status"] == "awaiting_review"
    problem(api.request("POST", f"{API}/public/uploads", token="",
                        data={**FORM, "upload_code": "verzonnen-code"},
                        files={"file": ("lijst.xlsx", xf.make_list(rows), "x")}), 422,
            "upload_code_invalid")


def test_leerlingen_handmatig_toevoegen(school):
    """'+ Nieuwe leerling': the type first; a potential transfer needs a BSN, or
    an onderwijsnummer when there is none."""
    api = school.api
    base = {"initials": "T.", "first_name": "Tess", "last_name": "Vos"}
    body = problem(api.post(f"{API}/students", token=school.admin, json={
        **base, "student_number": "5001", "type": "potential_transfer"}), 422)
    assert body["errors"][0]["field"] in ("bsn", "onderwijsnummer")
    ok(api.post(f"{API}/students", token=school.admin, json={
        **base, "student_number": "5001", "type": "potential_transfer",
        "onderwijsnummer": "100000004"}), 201)
    ok(api.post(f"{API}/students", token=school.admin, json={
        **base, "student_number": "5002", "type": "non_transfer"}), 201)
    shown = school.get("/students/5001")
    assert shown["onderwijsnummer"] == "*****0004" and shown["bsn"] is None
    revealed = school.get("/students/5001?reveal=bsn")
    assert revealed["onderwijsnummer"] == "100000004"
    audit = school.get("/audit/bsn?student_number=5001")["items"]
    assert [a["action"] for a in audit] == ["reveal", "create"]
