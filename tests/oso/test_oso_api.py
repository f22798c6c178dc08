"""OSO through the gateway against the real services on a real RabbitMQ, with a
fake LAS over HTTP (and, marked, the folder source)."""
import io
import json
import re

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from services.common.db import make_engine
from tests.helpers import wait_until
from tests.oso.oso_support import EXAMPLE_BSN, KEY, KEY_PREFIXED, example_bytes, with_bsn
from tests.helpers import problem

API = "/api/v1"
FULL = "Voorbeelddossier_OV_POVO_full.xml"
OPT_OUT = "Voorbeelddossier_OV_POVO_opt_out.xml"
BSN_FULL = EXAMPLE_BSN[FULL]
BSN_OPT = EXAMPLE_BSN[OPT_OUT]


@pytest.fixture
def school(system):
    r = system.post(f"{API}/institutions",
                    json={"name": "Het Testcollege", "brin": "00AB", "school_type": "vo"})
    assert r.status_code == 201, r.text
    inst = r.json()
    r = system.post(f"{API}/users", json={
        "institution_id": inst["id"], "code": "beheer1", "first_name": "Anna",
        "last_name": "Beheer", "email": "beheer1@school.nl", "password": "Geheim-wachtwoord-1",
        "roles": ["admin"]})
    assert r.status_code == 201, r.text
    return inst, system.login("00AB", "beheer1", "Geheim-wachtwoord-1")


def register(api, admin, key=KEY, **extra):
    return api.post(f"{API}/oso/delivery-points", token=admin,
                    json={"number": 1, "key": key, **extra})


def run_actions(api, admin, body):
    r = api.post(f"{API}/oso/actions", token=admin, json=body)
    assert r.status_code == 202, r.text
    batch = r.json()
    assert batch["progress"]["total"] == len(batch["items"])

    def finished():
        got = api.get(f"{API}/oso/actions/{batch['id']}", token=admin).json()
        return got if got["status"] == "done" else None

    done = wait_until(finished, timeout=30)
    assert done["progress"] == {"done": done["progress"]["total"],
                                "total": done["progress"]["total"]}
    return {i["bsn"]: i for i in done["items"]}


def dossier(api, admin, bsn):
    r = api.get(f"{API}/oso/dossiers/{bsn}", token=admin)
    assert r.status_code == 200, r.text
    return r.json()


def xlsx(values):
    wb = Workbook()
    ws = wb.active
    ws.append(["BSN"])
    for v in values:
        ws.append([v])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def r_text(body):
    return json.dumps(body)


def outbox_events(api):
    engine = make_engine(api.config["OSO_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT event_type, body FROM outbox ORDER BY id")).all()
    finally:
        engine.dispose()
    return rows


def test_delivery_point_and_worklist(system, school, fake_las, standard_dir):
    inst, admin = school
    base = f"{API}/oso"
    # only admins
    problem(system.get(f"{base}/students"), 403, "forbidden")
    # fetching without a delivery point is refused, saying what to do
    assert system.post(f"{base}/students", token=admin, json={"bsn": BSN_FULL}).status_code == 201
    b = problem(system.post(f"{base}/actions", token=admin,
                            json={"items": [{"bsn": BSN_FULL}]}), 409, "delivery_point_missing")
    assert "aanleverpunt" in b["detail"] and "sleutel" in b["detail"]
    # a BRIN given in front of the key or in the `brin` field must be the institution's
    b = problem(register(system, admin, "01CD-" + KEY), 422, "key_brin_mismatch")
    assert "01CD" in b["detail"] and "00AB" in b["detail"]
    assert b["errors"][0]["field"] == "key" and KEY[:8] not in r_text(b)
    b = problem(register(system, admin, KEY, brin="01cd"), 422, "brin_mismatch")
    assert b["errors"][0]["field"] == "brin"
    assert "'brin'" in b["detail"] and "01CD" in b["detail"] and "00AB" in b["detail"]
    b = problem(register(system, admin, KEY, brin="school"), 422, "brin_invalid")
    assert b["errors"][0]["field"] == "brin"
    b = problem(register(system, admin, "00AB-kort"), 422, "key_invalid")
    assert b["errors"][0]["field"] == "key"
    problem(register(system, admin, "sleutel met spaties"), 422, "key_invalid")
    assert system.get(f"{base}/delivery-points", token=admin).json()["items"] == []
    # the BRIN-prefixed form, with the right `brin` too, is accepted; the key is
    # stored as Mijn OSO shows it
    for key, extra in ((KEY_PREFIXED, {}), ("00ab:" + KEY, {"brin": "00AB"})):
        r = register(system, admin, key, **extra)
        assert r.status_code == 201, r.text
        assert r.json()["brin"] == "00AB" and KEY[:8] not in r.text
    # the key as Mijn OSO shows it, pasted as is
    r = register(system, admin, f"  {KEY} ")
    assert r.status_code == 201, r.text
    dp = r.json()
    assert dp["number"] == "1" and dp["brin"] == "00AB"
    assert dp["key"] == "*" * (len(KEY) - 4) + KEY[-4:] and KEY[:8] not in r.text
    listing = system.get(f"{base}/delivery-points", token=admin)
    assert listing.status_code == 200 and KEY[:8] not in listing.text
    assert listing.json()["total"] == 1
    assert listing.json()["items"][0]["number"] == "1"

    # worklist: one by one
    problem(system.post(f"{base}/students", token=admin, json={"bsn": BSN_FULL}), 409,
            "already_on_worklist")
    problem(system.post(f"{base}/students", token=admin, json={"bsn": "123456789"}), 422,
            "bsn_invalid")
    r = system.post(f"{base}/students", token=admin, json={"onderwijsnummer": "101010108"})
    assert r.status_code == 201 and r.json()["kind"] == "onderwijsnummer"
    # from an .xlsx: numeric cells padded, invalid and duplicates reported by row
    content = xlsx([20355889, "080040676", "12345", "080040676", int(BSN_FULL)])
    r = system.post(f"{base}/students/import", token=admin,
                    files={"file": ("bsn.xlsx", content,
                                    "application/vnd.openxmlformats-officedocument."
                                    "spreadsheetml.sheet")})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["added"] == 2
    assert [i["bsn"] for i in result["items"]] == ["020355889", "080040676"]
    assert [(e["row"], e["code"]) for e in result["errors"]] == [
        (4, "bsn_invalid"), (5, "duplicate"), (6, "already_on_worklist")]
    problem(system.post(f"{base}/students/import", token=admin,
                        files={"file": ("bsn.csv", b"BSN\n020355889\n", "text/csv")}), 415,
            "file_type_invalid")
    listing = system.get(f"{base}/students", token=admin).json()
    assert listing["total"] == 4
    entry = listing["items"][0]
    assert entry["bsn"] == BSN_FULL and entry["status"] == "not_fetched"
    assert entry["status_label"] == "Dossier nog niet opgehaald"
    assert entry["default_action"] == "import" and entry["dossier_date"] is None
    # remove
    assert system.delete(f"{base}/students/080040676", token=admin).status_code == 204
    problem(system.delete(f"{base}/students/080040676", token=admin), 404, "not_found")
    assert system.get(f"{base}/students", token=admin).json()["total"] == 3


def test_actions_merge_rules_and_definitive_lock(system, school, fake_las, standard_dir):
    inst, admin = school
    base = f"{API}/oso"
    assert register(system, admin).status_code == 201
    other, broken, missing = "111222333", "020355889", "080040676"
    for bsn in (BSN_FULL, BSN_OPT, other, broken, missing):
        assert system.post(f"{base}/students", token=admin, json={"bsn": bsn}).status_code == 201
    v1 = example_bytes(OPT_OUT).replace(b"<argumentatie>De leerling werkt hard.</argumentatie>",
                                        b"<argumentatie> </argumentatie>")
    fake_las.dossiers.update({
        BSN_FULL: example_bytes(FULL),
        BSN_OPT: v1,
        other: example_bytes(FULL),          # the dossier of another BSN
        broken: b"dit is geen XML",
    })
    items = run_actions(system, admin, {"all": True})
    assert {b: i["action"] for b, i in items.items()} == dict.fromkeys(items, "import")
    assert items[BSN_FULL]["status"] == "applied", items[BSN_FULL]
    assert items[BSN_OPT]["status"] == "applied"
    assert (items[other]["status"], items[other]["code"]) == ("failed", "dossier_bsn_mismatch")
    assert items[broken]["code"] == "dossier_not_xml"
    assert items[missing]["code"] == "dossier_not_found"
    # the fake LAS was asked by BRIN, delivery point and BSN with the key
    req = next(r for r in fake_las.requests if r["path"] == f"/dossiers/{BSN_FULL}")
    assert req["params"] == {"brin": "00AB", "aanleverpunt": "1"} and req["key"] == KEY

    worklist = {e["number"]: e for e in system.get(f"{base}/students", token=admin).json()["items"]}
    assert worklist[BSN_FULL]["status"] == "fetched"
    assert worklist[BSN_FULL]["status_label"].startswith("Opgehaald op ")
    assert worklist[BSN_FULL]["dossier_date"] == "2016-01-02"
    assert worklist[BSN_FULL]["last_action"] == "import"
    assert worklist[BSN_FULL]["default_action"] == "none"
    assert worklist[other]["status"] == "failed"
    assert "BSN" in worklist[other]["status_label"]
    problem(system.get(f"{base}/dossiers/{other}", token=admin), 404, "dossier_not_fetched")

    # the stored dossier: parsed data, validation, source file, attachments
    d = dossier(system, admin, BSN_FULL)
    assert d["validation"]["official"] is True and d["validation"]["meldingen"] == []
    assert d["data"]["student"]["last_name"] == "Berg"
    assert d["data"]["student"]["date_of_birth"] == "2003-03-17"
    assert d["data"]["advice"]["advice"] == "40"
    assert d["labels"]["advice.advice"] == "vmbo gemengde of theoretische leerweg"
    assert d["data"]["final_test"]["results"][0]["standard_score"] == "525"
    png = next(a for a in d["attachments"] if a["filename"] == "cet_uitslag.png")
    r = system.get(f"{base}/dossiers/{BSN_FULL}/attachments/{png['id']}", token=admin)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"
    assert r.content[:4] == b"\x89PNG" and "cet_uitslag.png" in r.headers["Content-Disposition"]
    assert int(r.headers["Content-Length"]) == len(r.content) == png["size"]
    assert list(system.app.files.keys("outgoing/")) == []  # handed out, streamed, deleted
    problem(system.get(f"{base}/dossiers/{BSN_FULL}/attachments/nope", token=admin), 404,
            "not_found")
    r = system.get(f"{base}/dossiers/{BSN_FULL}/source.xml", token=admin)
    assert r.status_code == 200 and r.content == example_bytes(FULL)

    # soft data of the report
    r = system.patch(f"{base}/dossiers/{BSN_OPT}/report", token=admin,
                     json={"functioning": "Werkt goed samen.",
                           "explanations": {"advice": "Besproken met ouders."}})
    assert r.status_code == 200, r.text
    assert r.json()["soft"]["functioning"] == "Werkt goed samen."

    # import again is refused: choose supplement or overwrite
    items = run_actions(system, admin, {"items": [{"bsn": BSN_OPT, "action": "import"}]})
    assert items[BSN_OPT]["code"] == "already_imported"

    # supplement: only empty hard fields are filled; a space counts as filled
    v2 = with_bsn(example_bytes(FULL), BSN_OPT).replace(
        b"<achternaam>Berg</achternaam>", b"<achternaam>Bergh</achternaam>", 1)
    fake_las.dossiers[BSN_OPT] = v2
    before = dossier(system, admin, BSN_OPT)
    assert before["data"]["final_test"] == {} and before["data"]["tests"] == []
    items = run_actions(system, admin, {"items": [{"bsn": BSN_OPT, "action": "supplement"}]})
    assert items[BSN_OPT]["status"] == "applied", items[BSN_OPT]
    assert "aangevuld" in items[BSN_OPT]["message"]
    d = dossier(system, admin, BSN_OPT)
    assert d["data"]["student"]["last_name"] == "Berg"
    assert d["data"]["advice"]["argumentation"] == " "
    assert d["data"]["final_test"]["results"][0]["standard_score"] == "525"
    assert d["data"]["tests"][0]["code"] == "DREM8"
    assert any(a["filename"] == "cet_uitslag.png" for a in d["attachments"])
    assert d["report"]["soft"]["functioning"] == "Werkt goed samen."
    assert d["last_action"] == "supplement"

    # overwrite: all hard data replaced, soft data kept
    items = run_actions(system, admin, {"items": [{"bsn": BSN_OPT, "action": "overwrite"}]})
    assert items[BSN_OPT]["status"] == "applied"
    d = dossier(system, admin, BSN_OPT)
    assert d["data"]["student"]["last_name"] == "Bergh"
    assert d["data"]["advice"]["argumentation"] == "De leerling werkt hard."
    assert d["report"]["soft"]["explanations"] == {"advice": "Besproken met ouders."}

    # definitive: a fetch then only touches final-test data, and says so
    r = system.post(f"{base}/dossiers/{BSN_OPT}/report/finalize", token=admin)
    assert r.status_code == 200 and r.json()["report"]["definitive"] is True
    assert r.json()["report"]["finalized_by"] == "beheer1"
    problem(system.patch(f"{base}/dossiers/{BSN_OPT}/report", token=admin,
                         json={"notes": "te laat"}), 409, "report_definitive")
    fake_las.dossiers[BSN_OPT] = v2.replace(b"<achternaam>Bergh</achternaam>",
                                            b"<achternaam>Anders</achternaam>", 1).replace(
        b"<standaardscore>525</standaardscore>", b"<standaardscore>540</standaardscore>")
    items = run_actions(system, admin, {"items": [{"bsn": BSN_OPT, "action": "overwrite"}]})
    assert items[BSN_OPT]["status"] == "applied"
    assert "definitief" in items[BSN_OPT]["message"]
    assert "eindtoets" in items[BSN_OPT]["message"]
    d = dossier(system, admin, BSN_OPT)
    assert d["data"]["final_test"]["results"][0]["standard_score"] == "540"
    assert d["data"]["student"]["last_name"] == "Bergh"
    assert d["outcome"]["changed"] == ["final_test"]
    items = run_actions(system, admin, {"items": [{"bsn": BSN_OPT, "action": "supplement"}]})
    assert "definitief" in items[BSN_OPT]["message"]
    # none: nothing happens
    items = run_actions(system, admin, {"items": [{"bsn": BSN_OPT}]})
    assert (items[BSN_OPT]["action"], items[BSN_OPT]["status"]) == ("none", "skipped")

    # events through the outbox, never with a BSN
    wait_until(lambda: any(t == "dossier_applied" for t, _ in outbox_events(system)))
    rows = outbox_events(system)
    types = {t for t, _ in rows}
    assert {"dossier_fetched", "dossier_applied"} <= types
    for _t, body in rows:
        for bsn in (BSN_FULL, BSN_OPT, other, broken, missing):
            assert bsn not in body
    applied = [json.loads(b) for t, b in rows if t == "dossier_applied"]
    assert applied[-1]["data"]["final_test_only"] is True
    assert applied[-1]["institution_id"] == inst["id"]
    refused = [json.loads(b)["data"] for t, b in rows if t == "dossier_fetched"
               and not json.loads(b)["data"]["accepted"]]
    assert {e["code"] for e in refused} >= {"dossier_bsn_mismatch", "dossier_not_xml"}

    # another institution's admin sees nothing of it
    r = system.post(f"{API}/institutions",
                    json={"name": "Ander", "brin": "01CD", "school_type": "vo"})
    other_inst = r.json()
    system.post(f"{API}/users", json={
        "institution_id": other_inst["id"], "code": "beheer2", "first_name": "B",
        "last_name": "C", "password": "Geheim-wachtwoord-2", "roles": ["admin"]})
    admin2 = system.login("01CD", "beheer2", "Geheim-wachtwoord-2")
    problem(system.get(f"{base}/dossiers/{BSN_FULL}", token=admin2), 404, "not_found")
    assert system.get(f"{base}/students", token=admin2).json()["total"] == 0


@pytest.mark.oso_source("folder")
def test_folder_source(system, school, dossier_folder, standard_dir):
    inst, admin = school
    base = f"{API}/oso"
    # files named anything; found by the BSN inside
    (dossier_folder / "a.xml").write_bytes(example_bytes(FULL))
    popo_xml = example_bytes("Voorbeelddossier_OV_POPO_full.xml")
    (dossier_folder / "export-2.xml").write_bytes(popo_xml)
    (dossier_folder / "notes.txt").write_text("geen dossier")
    assert register(system, admin).status_code == 201
    popo = EXAMPLE_BSN["Voorbeelddossier_OV_POPO_full.xml"]
    for bsn in (BSN_FULL, popo, BSN_OPT):
        assert system.post(f"{base}/students", token=admin, json={"bsn": bsn}).status_code == 201
    cfg = system.get(f"{base}/configuration", token=admin).json()
    assert cfg["source"]["kind"] == "folder" and cfg["official_validation"] is True
    items = run_actions(system, admin, {"all": True, "action": "import"})
    assert items[BSN_FULL]["status"] == "applied"
    assert items[popo]["status"] == "applied"
    assert items[BSN_OPT]["code"] == "dossier_not_found"
    d = dossier(system, admin, popo)
    assert d["source_file"]["origin"] == "map: export-2.xml"
    assert d["data"]["metadata"]["transfer"] == "POPO"
    assert d["data"]["student"]["first_name"] == "Daan"


def test_enrol_creates_the_student(system, school, fake_las, standard_dir):
    inst, admin = school
    base = f"{API}/oso"
    assert register(system, admin).status_code == 201
    fake_las.dossiers[BSN_FULL] = example_bytes(FULL)
    assert system.post(f"{base}/students", token=admin, json={"bsn": BSN_FULL}).status_code == 201
    problem(system.post(f"{base}/dossiers/{BSN_FULL}/enrol", token=admin,
                        json={"student_number": "700001"}), 404, "dossier_not_fetched")
    run_actions(system, admin, {"items": [{"bsn": BSN_FULL}]})
    problem(system.post(f"{base}/dossiers/{BSN_FULL}/enrol", token=admin,
                        json={"student_number": "70a"}), 422, "student_number_not_digits")
    r = system.post(f"{base}/dossiers/{BSN_FULL}/enrol", token=admin,
                    json={"student_number": "700001"})
    assert r.status_code == 201, r.text
    assert r.json()["dossier"]["student_number"] == "700001"
    student = system.get(f"{API}/students/700001?reveal=bsn", token=admin).json()
    assert (student["first_name"], student["last_name"]) == ("Daan", "Berg")
    assert re.sub(r"\D", "", str(student.get("bsn"))) == BSN_FULL
    problem(system.post(f"{base}/dossiers/{BSN_FULL}/enrol", token=admin,
                        json={"student_number": "700002"}), 409, "already_enrolled")
