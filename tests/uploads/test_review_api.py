"""Review of student lists through the gateway: approve loads through the
students service (in chunks, once), decline takes a reason, the existing-student
check, e-mail on approval and decline over a real SMTP server."""
import datetime as dt
import json

import pytest
import sqlalchemy as sa
from kombu import Connection

from services.common.db import make_engine
from services.common.outbox import envelope, events_exchange
from tests.uploads import xlsxfactory as xf
from tests.uploads.conftest import API, problem, submit, verdict


@pytest.fixture
def service_config(service_config):
    config = dict(service_config)
    config["LEERLINGBUS_UPLOAD_LOAD_CHUNK"] = "4"  # several chunks for a small list
    return config


def students_total(api, token):
    r = api.get(f"{API}/students?page_size=1", token=token)
    assert r.status_code == 200, r.text
    return r.json()["total"]


def make_student(api, token, number, bsn):
    r = api.post(f"{API}/students", token=token, json={
        "student_number": number, "type": "potential_transfer", "bsn": bsn,
        "initials": "K.", "first_name": "Kees", "last_name": "Bestaand"})
    assert r.status_code == 201, r.text


def publish_again(config, event_type, institution_id, data):
    """The same kind of message the outbox relay publishes (a redelivery)."""
    with Connection(config["AMQP_URI"]) as conn:
        producer = conn.Producer()
        producer.publish(json.dumps(envelope(event_type, institution_id, data)),
                         exchange=events_exchange("uploads"), routing_key=event_type,
                         content_type="application/json", content_encoding="utf-8",
                         declare=[events_exchange("uploads")])


@pytest.mark.pg
def test_approve_loads_in_chunks_once_and_mails(system, school, smtp):
    inst, admin = school
    rows = [xf.student_row(i) for i in range(1, 11)]
    r = submit(system, admin, xf.make_list(rows))
    up = verdict(system, admin, r.json()["id"])
    assert up["status"] == "awaiting_review", up["errors"]
    # an admin cannot approve; helpdesk can
    problem(system.post(f"{API}/uploads/{up['id']}/approve", token=admin, json={}), 403,
            "forbidden")
    first = system.post(f"{API}/uploads/{up['id']}/approve", json={})
    assert first.status_code == 200, first.text
    assert first.json()["status"] in ("loading", "loaded")
    # approving again, and duplicate messages, load nothing twice
    again = system.post(f"{API}/uploads/{up['id']}/approve", json={})
    assert again.status_code == 200 and again.json()["status"] in ("loading", "loaded")
    publish_again(system.config, "submission_approved", inst["id"], {"submission_id": up["id"]})
    done = verdict(system, admin, up["id"], until=("loading", "awaiting_review"))
    assert done["status"] == "loaded", done
    assert done["loaded"] == 10 and done["skipped"] == 0
    assert done["progress"] == {"done": 10, "total": 10}
    assert students_total(system, admin) == 10
    student = system.get(f"{API}/students/{rows[0]['Leerlingnummer']}", token=admin).json()
    assert student["first_name"] == rows[0]["Voornaam"] and student["type"] == "potential_transfer"
    mail = smtp.wait_for("approved", to="j.wolff@school.nl")
    assert "Ingeladen leerlingen: 10" in mail.get_content()
    assert mail["Subject"] == "Leerlinglijst goedgekeurd en ingeladen"

    # a redelivery after a crash mid-load (progress lost): existing students are
    # skipped, nothing is created twice
    engine = make_engine(system.config["UPLOADS_DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE submissions SET status='loading', progress_done=0, "
                             "loaded=0, claim=NULL WHERE id=:id"), {"id": up["id"]})
    engine.dispose()
    publish_again(system.config, "submission_approved", inst["id"], {"submission_id": up["id"]})
    redone = verdict(system, admin, up["id"], until=("loading",))
    # the counts are what this list stored, whatever attempt stored it
    assert redone["status"] == "loaded" and redone["loaded"] == 10 and redone["skipped"] == 0
    assert students_total(system, admin) == 10
    problem(system.post(f"{API}/uploads/{up['id']}/decline", json={"reason": "x"}), 409,
            "wrong_state")

    # a worker that died holding the claim (no message left at all): the resume
    # timer takes the work over once the claim went quiet
    engine = make_engine(system.config["UPLOADS_DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE submissions SET status='loading', progress_done=4, "
                             "claim='a-dead-worker', claimed_at=:old WHERE id=:id"),
                     {"id": up["id"], "old": dt.datetime.now(dt.timezone.utc)
                      - dt.timedelta(minutes=5)})
    engine.dispose()
    resumed = verdict(system, admin, up["id"], until=("loading",), timeout=40)
    assert resumed["status"] == "loaded" and resumed["progress"]["done"] == 10
    assert students_total(system, admin) == 10


def test_decline_needs_a_reason_and_mails_it(system, school, smtp):
    _inst, admin = school
    r = submit(system, admin, xf.make_list([xf.student_row(1)]))
    up = verdict(system, admin, r.json()["id"])
    problem(system.post(f"{API}/uploads/{up['id']}/decline", json={}), 422, "required")
    r = system.post(f"{API}/uploads/{up['id']}/decline",
                    json={"reason": "Dit zijn de leerlingen van vorig jaar."})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "declined"
    mail = smtp.wait_for("declined")
    assert "Reden: Dit zijn de leerlingen van vorig jaar." in mail.get_content()
    problem(system.post(f"{API}/uploads/{up['id']}/approve", json={}), 409, "wrong_state")
    assert students_total(system, admin) == 0


def test_existing_student_number_with_another_bsn(system, school):
    _inst, admin = school
    numbers = xf.bsns(3, start=30_000_000)
    make_student(system, admin, "555001", numbers[0])
    make_student(system, admin, "555002", numbers[1])
    rows = [{**xf.student_row(1), "Leerlingnummer": "555001", "BSN": numbers[2]},  # other BSN
            {**xf.student_row(2), "Leerlingnummer": "555002", "BSN": numbers[1]},  # same one
            xf.student_row(3)]
    up = verdict(system, admin, submit(system, admin, xf.make_list(rows)).json()["id"])
    assert up["status"] == "rejected"
    assert [(e["row"], e["column"], e["code"]) for e in up["errors"]] == [
        (2, "Leerlingnummer", "student_number_bsn_mismatch")]
    # without the conflicting row the list passes; the existing student is skipped
    up = verdict(system, admin, submit(system, admin, xf.make_list(rows[1:])).json()["id"])
    assert up["status"] == "awaiting_review", up["errors"]
    system.post(f"{API}/uploads/{up['id']}/approve", json={})
    done = verdict(system, admin, up["id"], until=("loading", "awaiting_review"))
    assert done["status"] == "loaded" and done["loaded"] == 1 and done["skipped"] == 1
    assert students_total(system, admin) == 3


def test_tenancy_of_lists(system, school):
    inst, admin = school
    from tests.uploads.conftest import make_admin, make_institution
    other = make_institution(system, brin="01CD", name="Ander College")
    other_admin = make_admin(system, other, code="beheer2")
    up = verdict(system, admin, submit(system, admin, xf.make_list([xf.student_row(1)]))
                 .json()["id"])
    problem(system.get(f"{API}/uploads/{up['id']}", token=other_admin), 404, "not_found")
    problem(system.get(f"{API}/uploads/{up['id']}/report.xlsx", token=other_admin), 404,
            "not_found")
    assert system.get(f"{API}/uploads", token=other_admin).json()["total"] == 0
    assert system.get(f"{API}/uploads", token=admin).json()["total"] == 1
    # an admin names no other institution; helpdesk must name one
    r = submit(system, admin, xf.make_list([xf.student_row(1)]), institution_id=other["id"])
    problem(r, 404, "not_found")
    problem(submit(system, system.token, xf.make_list([xf.student_row(1)])), 422,
            "institution_id_required")
    r = submit(system, system.token, xf.make_list([xf.student_row(1)]),
               institution_id=other["id"])
    assert r.status_code == 202, r.text
    assert system.get(f"{API}/uploads/{r.json()['id']}", token=other_admin).status_code == 200
