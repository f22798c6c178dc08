"""The helpdesk's notice of a new student list awaiting review (an .eml in the
outbox: no SMTP host here), exactly once per list; and a list whose school
type is not the institution's, refused at the door on both routes."""
import logging
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.helpers import wait_until
from tests.uploads import xlsxfactory as xf
from tests.uploads.conftest import API, FORM, problem, submit, verdict
from tests.uploads.test_review_api import publish_again

WEB_URL = "https://leerlingbus.example.nl"
ACCOUNT_EMAIL = "helpdesk@leerlingbus.example.nl"


@pytest.fixture
def helpdesk_setting():
    """LEERLINGBUS_HELPDESK_EMAIL (None: unset); a test may parametrize it."""
    return None


@pytest.fixture
def service_config(service_config, helpdesk_setting):
    config = dict(service_config)
    config.pop("LEERLINGBUS_SMTP_HOST", None)  # mail goes to <data dir>/outbox/*.eml
    config["LEERLINGBUS_WEB_URL"] = WEB_URL + "/"
    if helpdesk_setting:
        config["LEERLINGBUS_HELPDESK_EMAIL"] = helpdesk_setting
    return config


def mails(api, kind):
    outbox = Path(api.config["LEERLINGBUS_DATA_DIR"]) / "outbox"
    found = [message_from_bytes(f.read_bytes(), policy=policy.default)
             for f in sorted(outbox.glob("*.eml"))] if outbox.is_dir() else []
    return [m for m in found if m["X-Leerlingbus-Kind"] == kind]


def notices_of(api, upload_id):
    return [m for m in mails(api, "helpdesk_notice")
            if m["X-Leerlingbus-Submission"] == str(upload_id)]


def set_account_email(api, email):
    platform_id = api.get(f"{API}/me").json()["institution"]["id"]
    r = api.patch(f"{API}/users/helpdesk?institution_id={platform_id}", json={"email": email})
    assert r.status_code == 200, r.text


def upload_code(api, inst):
    return api.get(f"{API}/institutions/{inst['id']}/upload-code").json()["upload_code"]


def public(api, code, content, **form):
    return api.post(f"{API}/public/uploads", token="",
                    data={**FORM, "upload_code": code, **form},
                    files={"file": ("lijst.xlsx", content, "application/octet-stream")})


def test_the_helpdesk_is_told_once_per_list_awaiting_review(system, school):
    inst, admin = school
    set_account_email(system, ACCOUNT_EMAIL)
    r = submit(system, admin, xf.make_list([xf.student_row(i) for i in range(1, 4)]))
    up = verdict(system, admin, r.json()["id"])
    assert up["status"] == "awaiting_review", up["errors"]
    (notice,) = wait_until(lambda: notices_of(system, up["id"]))
    assert notice["To"] == ACCOUNT_EMAIL
    assert notice["Subject"] == "Nieuwe leerlinglijst ter beoordeling: Het Testcollege"
    body = notice.get_content()
    assert "School: Het Testcollege (BRIN 00AB)" in body
    assert "Afzender: Janneke Wolff <j.wolff@school.nl>, via het portaal, gebruiker beheer1" \
        in body
    assert "Aantal leerlingen: 3" in body
    assert f"Beoordelen: {WEB_URL}/uploads/{up['id']}" in body
    assert "Nieuwe leerlingen 4 havo" in body           # the sender's note
    assert system.get(f"{API}/uploads/{up['id']}").json()["helpdesk_notified_at"]

    # the validation message redelivered: no second notice. A second list, sent
    # afterwards through the public route, is told once; by then the redelivery
    # (queued before it) has been handled.
    publish_again(system.config, "submission_validated", inst["id"], {
        "submission_id": up["id"], "status": "awaiting_review", "rows": 3, "error_count": 0})
    r = public(system, upload_code(system, inst), xf.make_list([xf.student_row(9)]),
               name="Piet Publiek", email="piet@basisschool.nl")
    assert r.status_code == 202, r.text
    second = verdict(system, admin, r.json()["id"])
    assert second["status"] == "awaiting_review"
    (public_notice,) = wait_until(lambda: notices_of(system, second["id"]))
    assert "Afzender: Piet Publiek <piet@basisschool.nl>, via de uploadcode" in \
        public_notice.get_content()
    assert len(notices_of(system, up["id"])) == 1

    # a rejected list is the sender's business only
    bad = submit(system, admin, xf.make_list([xf.student_row(20, bsn="123456789")]))
    rejected = verdict(system, admin, bad.json()["id"])
    assert rejected["status"] == "rejected"
    wait_until(lambda: [m for m in mails(system, "rejected")
                        if m["X-Leerlingbus-Submission"] == str(rejected["id"])])
    assert notices_of(system, rejected["id"]) == []
    assert len(mails(system, "helpdesk_notice")) == 2


@pytest.mark.parametrize("helpdesk_setting", ["balie@leerlingbus.example.nl"])
def test_the_setting_wins_over_the_account(system, school, helpdesk_setting):
    _inst, admin = school
    set_account_email(system, ACCOUNT_EMAIL)
    up = verdict(system, admin, submit(system, admin, xf.make_list([xf.student_row(1)]))
                 .json()["id"])
    (notice,) = wait_until(lambda: notices_of(system, up["id"]))
    assert notice["To"] == "balie@leerlingbus.example.nl"


def test_no_notice_when_no_helpdesk_address_is_known(system, school, caplog):
    _inst, admin = school      # the bootstrap's helpdesk account has no e-mail address
    caplog.set_level(logging.INFO, logger="services.uploads.jobs")
    up = verdict(system, admin, submit(system, admin, xf.make_list([xf.student_row(1)]))
                 .json()["id"])
    assert up["status"] == "awaiting_review"
    # the submitter's receipt is written; the helpdesk's notice is settled without a mail
    wait_until(lambda: [m for m in mails(system, "received")
                        if m["X-Leerlingbus-Submission"] == str(up["id"])])
    wait_until(lambda: system.get(f"{API}/uploads/{up['id']}").json()["helpdesk_notified_at"])
    assert mails(system, "helpdesk_notice") == []
    lines = [r.getMessage() for r in caplog.records if "no helpdesk notice sent" in r.getMessage()]
    assert len(lines) == 1 and "LEERLINGBUS_HELPDESK_EMAIL" in lines[0]


def test_a_list_of_another_school_type_is_refused_on_both_routes(system, school):
    inst, admin = school       # a VO school
    content = xf.make_list([xf.student_row(1, school_type="mbo")], school_type="mbo")
    b = problem(submit(system, admin, content, school_type="mbo"), 422, "school_type_mismatch")
    assert b["detail"].startswith("Deze school is een VO-school; u koos MBO.")
    assert b["errors"] == [{"field": "school_type", "code": "school_type_mismatch",
                            "message": b["detail"]}]
    # the helpdesk sending for the school too
    data = {**FORM, "school_type": "mbo", "institution_id": str(inst["id"])}
    r = system.post(f"{API}/uploads", data=data,
                    files={"file": ("l.xlsx", content, "application/octet-stream")})
    problem(r, 422, "school_type_mismatch")
    b = problem(public(system, upload_code(system, inst), content, school_type="mbo"), 422,
                "school_type_mismatch")
    assert b["errors"][0]["field"] == "school_type" and "VO-school" in b["detail"]
    assert system.get(f"{API}/uploads", token=admin).json()["total"] == 0
    # the school's own type passes
    assert submit(system, admin, xf.make_list([xf.student_row(1)])).status_code == 202
