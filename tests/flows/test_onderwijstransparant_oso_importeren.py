"""onderwijstransparant-oso-importeren.txt, the Stappenplan OSO: the
registration with the key as Mijn OSO shows it, the student on the worklist
by BSN, the dossier fetched from the primary school's LAS and imported, the
student created, the report made definitive."""
from tests.flows.conftest import API, ok, problem, wait_until
from tests.oso.conftest import (dossier_folder, fake_las, service_config,  # noqa: F401
                                standard_dir)
from tests.oso.oso_support import EXAMPLE_BSN, KEY, example_bytes

FULL = "Voorbeelddossier_OV_POVO_full.xml"
BSN = EXAMPLE_BSN[FULL]


def test_oso_registratie_met_sleutel_dossier_importeren_en_rapport_definitief(
        school, fake_las, standard_dir):
    api, base = school.api, f"{API}/oso"
    # OSO-registratie regelen m.b.v. sleutel: pasted as Mijn OSO shows it (no BRIN in front)
    problem(api.post(f"{base}/delivery-points", token=school.admin,
                     json={"number": 1, "key": KEY, "brin": "01CD"}), 422, "brin_mismatch")
    point = ok(api.post(f"{base}/delivery-points", token=school.admin,
                        json={"number": 1, "key": KEY}), 201)
    assert point["brin"] == "05KQ" and KEY not in str(point)
    assert point["key"].endswith(KEY[-4:])
    # the primary school put the dossier ready in its LAS
    fake_las.dossiers[BSN] = example_bytes(FULL)
    # the student on the worklist, by BSN; then Importeren
    ok(api.post(f"{base}/students", token=school.admin, json={"bsn": BSN}), 201)
    r = api.post(f"{base}/actions", token=school.admin,
                 json={"items": [{"bsn": BSN, "action": "import"}]})
    batch = ok(r, 202)

    def finished():
        got = ok(api.get(f"{base}/actions/{batch['id']}", token=school.admin))
        return got if got["status"] == "done" else None
    done = wait_until(finished, timeout=30)
    (item,) = done["items"]
    assert item["status"] == "applied", item
    request = next(q for q in fake_las.requests if q["path"] == f"/dossiers/{BSN}")
    assert request["key"] == KEY and request["params"]["brin"] == "05KQ"
    entry = ok(api.get(f"{base}/students", token=school.admin))["items"][0]
    assert (entry["status"], entry["last_action"], entry["dossier_date"]) == (
        "fetched", "import", "2016-01-02")
    dossier = ok(api.get(f"{base}/dossiers/{BSN}", token=school.admin))
    assert dossier["validation"]["official"] is True and dossier["validation"]["meldingen"] == []
    assert (dossier["data"]["student"]["first_name"], dossier["data"]["student"]["last_name"]) \
        == ("Daan", "Berg")
    # Leerling aanmaken: the student enters the school's administration from the dossier
    enrolled = ok(api.post(f"{base}/dossiers/{BSN}/enrol", token=school.admin,
                           json={"student_number": "700001"}), 201)
    assert enrolled["dossier"]["student_number"] == "700001"
    student = school.get("/students/700001")
    assert (student["type"], student["bsn"]) == ("potential_transfer", "*****" + BSN[-4:])
    # the report (OKR) made definitive
    final = ok(api.post(f"{base}/dossiers/{BSN}/report/finalize", token=school.admin))
    assert final["report"]["definitive"] is True
