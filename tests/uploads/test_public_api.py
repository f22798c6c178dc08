"""The public submission route (leerlinglijst.nl): an institution's upload
code instead of an account; rotating the code; the rate limit; nothing about
the institution's students is revealed."""
import pytest

from tests.uploads import xlsxfactory as xf
from tests.uploads.conftest import API, FORM, problem, verdict


@pytest.fixture
def service_config(service_config):
    config = dict(service_config)
    config["LEERLINGBUS_PUBLIC_BAD_CODES_PER_HOUR"] = "3"
    config["LEERLINGBUS_PUBLIC_UPLOADS_PER_HOUR"] = "6"
    return config


def public(api, code, content, **form):
    data = {**FORM, "upload_code": code, **form}
    return api.post(f"{API}/public/uploads", token="", data=data,
                    files={"file": ("lijst.xlsx", content, "application/octet-stream")})


def test_public_submission_with_the_upload_code_and_rotation(system, school, smtp):
    inst, admin = school
    code = system.get(f"{API}/institutions/{inst['id']}/upload-code").json()["upload_code"]
    assert len(code) >= 20
    assert system.get(f"{API}/institutions/{inst['id']}/upload-code",
                      token=admin).json()["upload_code"] == code
    r = public(system, code, xf.make_list([xf.student_row(1), xf.student_row(2)]),
               name="Piet Publiek", email="piet@basisschool.nl")
    assert r.status_code == 202, r.text
    assert set(r.json()) == {"id", "status"}
    up_id = r.json()["id"]
    # the submitter has no account: nothing to read without a token
    problem(system.get(f"{API}/uploads/{up_id}", token=""), 401, "not_authenticated")
    up = verdict(system, admin, up_id)
    assert up["status"] == "awaiting_review" and up["source"] == "public"
    assert up["institution_id"] == inst["id"]
    assert smtp.wait_for("received", to="piet@basisschool.nl")
    queue = system.get(f"{API}/uploads?status=awaiting_review").json()
    assert [u["id"] for u in queue["items"]] == [up_id]

    rotated = system.post(f"{API}/institutions/{inst['id']}/upload-code")
    assert rotated.status_code == 200, rotated.text
    new_code = rotated.json()["upload_code"]
    assert new_code != code
    problem(public(system, code, xf.make_list([xf.student_row(3)])), 422,
            "upload_code_invalid")
    assert public(system, new_code, xf.make_list([xf.student_row(3)])).status_code == 202
    # only helpdesk rotates
    problem(system.post(f"{API}/institutions/{inst['id']}/upload-code", token=admin), 403,
            "forbidden")


def test_public_submission_reveals_no_existing_students(system, school):
    inst, admin = school
    numbers = xf.bsns(2, start=40_000_000)
    r = system.post(f"{API}/students", token=admin, json={
        "student_number": "777001", "type": "potential_transfer", "bsn": numbers[0],
        "initials": "K.", "first_name": "Kees", "last_name": "Bestaand"})
    assert r.status_code == 201, r.text
    code = system.get(f"{API}/institutions/{inst['id']}/upload-code").json()["upload_code"]
    rows = [{**xf.student_row(1), "Leerlingnummer": "777001", "BSN": numbers[1]},
            xf.student_row(2)]
    r = public(system, code, xf.make_list(rows))
    assert r.status_code == 202
    up = verdict(system, admin, r.json()["id"])
    # not rejected (that would tell the sender the number exists): reviewers see it
    assert up["status"] == "awaiting_review" and up["errors"] == []
    assert [(c["row"], c["code"]) for c in up["conflicts"]] == [
        (2, "student_number_bsn_mismatch")]
    system.post(f"{API}/uploads/{up['id']}/approve", json={})
    done = verdict(system, admin, up["id"], until=("loading", "awaiting_review"))
    assert done["status"] == "loaded" and done["loaded"] == 1 and done["skipped"] == 1
    assert [e["code"] for e in done["load_errors"]] == ["student_number_bsn_mismatch"]
    kept = system.get(f"{API}/students/777001?reveal=bsn", token=admin).json()
    assert kept["bsn"] == numbers[0]


def test_public_route_is_rate_limited(system, school):
    inst, _admin = school
    content = xf.make_list([xf.student_row(1)])
    for _ in range(3):
        problem(public(system, "geen-echte-code", content), 422, "upload_code_invalid")
    r = public(system, "geen-echte-code", content)
    body = problem(r, 429, "too_many_attempts")
    assert int(r.headers["Retry-After"]) > 0
    assert "instelling" not in body["detail"].lower()
    # even the right code waits now: the limit is per client
    code = system.get(f"{API}/institutions/{inst['id']}/upload-code").json()["upload_code"]
    problem(public(system, code, content), 429, "too_many_attempts")
