"""Files by reference through the gateway, with the S3 file store (a real
S3-compatible server: moto's, tests.helpers.S3Server): a student list and a CSV
import are streamed into the bucket and the RPC carries only their reference;
the check, the report and the import's sample read them back from the bucket;
retention and the orphan sweep delete the objects. The other upload tests run
the same routes on the local store."""
import datetime as dt
import io
import uuid

import pytest
from kombu.serialization import dumps
from openpyxl import load_workbook

from services.common.errors import DomainError
from services.common.filestore_s3 import S3Store
from services.uploads import handlers
from services.uploads.settings import UploadSettings
from tests.helpers import Db, wait_until
from tests.uploads import xlsxfactory as xf
from tests.uploads.conftest import API, FORM, b64, problem, submit, verdict


@pytest.fixture
def service_config(service_config, s3_server):
    return {**service_config, **s3_server.config(f"lb-{uuid.uuid4().hex[:12]}")}


@pytest.fixture
def sent(system):
    """The body size of every RPC the gateway sends, as (method, bytes)."""
    bus = system.app.bus
    original = bus.call
    seen = []

    def call(service, method, *args, timeout=None, **kwargs):
        _type, _encoding, body = dumps({"args": list(args), "kwargs": kwargs},
                                       serializer="json")
        seen.append((method, len(body)))
        return original(service, method, *args, timeout=timeout, **kwargs)

    bus.call = call
    yield seen
    bus.call = original


def bucket_keys(store, prefix=""):
    return sorted(key for key, _ in store.keys(prefix))


def test_list_and_import_travel_by_reference_through_s3(system, school, sent):
    _inst, admin = school
    store = system.app.files
    assert isinstance(store, S3Store)
    # a list with an error: rejected, so its report is built and kept
    rows = [xf.student_row(i) for i in range(1, 3000)] + [
        {**xf.student_row(3000), "BSN": "123456789"}]
    content = xf.make_list(rows)
    assert len(content) > 100_000
    r = submit(system, admin, content)
    assert r.status_code == 202, r.text
    sid = r.json()["id"]
    size = dict(sent)["submit"]
    assert size < 2_000, size  # the reference, not the file (base64: > 4/3 × its size)
    up = verdict(system, admin, sid, timeout=60)
    assert up["status"] == "rejected" and up["errors"][0]["code"] == "bsn_invalid"
    original = store.stat(f"uploads/lists/{sid}/original.xlsx")
    assert original["size"] == len(content) and original["sha256"] is not None
    assert store.read(original) == content
    wait_until(lambda: system.get(f"{API}/uploads/{sid}", token=admin).json()["report_ready"],
               timeout=30)
    r = system.get(f"{API}/uploads/{sid}/report.xlsx", token=admin)
    assert r.status_code == 200, r.text
    assert r.content == store.read(store.stat(f"uploads/lists/{sid}/report.xlsx"))
    assert int(r.headers["Content-Length"]) == len(r.content)
    assert load_workbook(io.BytesIO(r.content))["Leerlingen"].max_row == 3001
    assert dict(sent)["report"] < 2_000

    csv = "code;firstName;lastName\n" + "".join(
        f"{1000 + i};Voornaam{i};Achternaam{i}\n" for i in range(5000))
    r = system.post(f"{API}/imports", token=admin, data={"kind": "users"},
                    files={"file": ("export.csv", csv.encode(), "text/csv")})
    assert r.status_code == 201, r.text
    imp = r.json()
    assert imp["row_count"] == 5000 and dict(sent)["create_import"] < 2_000
    kept = store.stat(f"uploads/imports/{imp['id']}/original.csv")
    assert kept["size"] == len(csv.encode())
    r = system.get(f"{API}/imports/{imp['id']}?sample_rows=2", token=admin)
    assert r.json()["sample"] == [["1000", "Voornaam0", "Achternaam0"],
                                  ["1001", "Voornaam1", "Achternaam1"]]
    # refused uploads leave nothing behind; nothing incoming is left at all
    problem(submit(system, admin, content, school_type="mbo"), 422)
    problem(system.post(f"{API}/imports", token=admin, data={"kind": "users"},
                        files={"file": ("x.csv", b"", "text/csv")}), 422)
    assert bucket_keys(store, "incoming/") == []

    # retention deletes the objects with the files; the sweep takes orphans
    settings = UploadSettings.from_config(system.config)
    orphan = store.put(store.new_key(), b"an upload whose RPC failed")
    with Db(system.config["UPLOADS_DATABASE_URL"], "uploads").uow() as uow:
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=settings.retention_days + 1)
        assert handlers.purge_files(uow, settings, now=later) == {"submissions": 1,
                                                                   "imports": 1}
    assert bucket_keys(store, "uploads/") == []
    problem(system.get(f"{API}/uploads/{sid}/report.xlsx", token=admin), 410, "purged")
    settings.orphan_seconds = 0
    assert handlers.sweep_orphans(settings) == 1
    assert not store.exists(orphan["key"])


def test_a_reference_names_only_incoming_files(system, school, sent):
    """Over RPC a caller can hand only an incoming file, never a stored one;
    base64 text is still taken (and stored in the file store)."""
    inst, _admin = school
    csv = b"code;lastName\n" + b"".join(b"%d;Jansen\n" % i for i in range(1, 5001))
    imp = system.app.bus.call("uploads", "create_import", inst["id"], "users", "x.csv",
                              b64(csv), actor={"code": "beheer"})
    assert imp["row_count"] == 5000
    assert dict(sent)["create_import"] > len(b64(csv))  # what the meter of the test above reads
    assert system.app.files.stat(f"uploads/imports/{imp['id']}/original.csv")["size"] == len(csv)
    stored = system.app.files.put("uploads/lists/999/original.xlsx", b"not yours")
    for method, args in (("create_import", (inst["id"], "users", "x.csv", stored)),
                         ("submit", (inst["id"], dict(FORM), "x.xlsx", stored))):
        with pytest.raises(DomainError) as exc:
            system.app.bus.call("uploads", method, *args)
        assert exc.value.code == "file_reference_invalid", method
    assert system.app.files.exists(stored["key"])
