"""Hostile and big files, each limit with a crafted file, through the gateway:
too large (413, at the gateway and in the service), not a real .xlsx (415),
a zip bomb by ratio or past the cap (413), too many rows (422). And retention:
originals and reports go after the configured time, the records stay."""
import datetime as dt
import io
import zipfile

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from services.common.db import UnitOfWork, make_engine
from services.uploads import handlers, storage
from services.uploads.settings import UploadSettings
from tests.uploads import xlsxfactory as xf
from tests.uploads.conftest import API, problem, submit, verdict

SERVICE_MAX = 300_000


@pytest.fixture
def service_config(service_config):
    config = dict(service_config)
    config["LEERLINGBUS_UPLOAD_MAX_BYTES"] = str(SERVICE_MAX)
    config["LEERLINGBUS_UPLOAD_MAX_ROWS"] = "50"
    config["LEERLINGBUS_UPLOAD_MAX_EXPANDED_BYTES"] = str(2 * 1024 * 1024)
    return config


@pytest.fixture
def gateway_settings(gateway_settings):
    gateway_settings.max_upload_bytes = 1024 * 1024
    return gateway_settings


def incompressible(size):
    import random
    return random.Random(7).randbytes(size)


def test_too_large_at_the_gateway_and_in_the_service(system, school):
    _inst, admin = school
    # past the gateway's limit: refused before the service sees it
    body = problem(submit(system, admin, incompressible(1_200_000)), 413, "file_too_large")
    assert "MB" in body["detail"]
    # under the gateway's limit but past the service's own
    body = problem(submit(system, admin, b"PK\x03\x04" + incompressible(SERVICE_MAX + 10)), 413,
                   "file_too_large")
    assert body["errors"][0]["field"] == "file"


@pytest.mark.parametrize("content,code,word", [
    (xf.XLS_HEADER, "xls_not_supported", ".xls"),
    (xf.PDF, "not_xlsx", "PDF"),
    (xf.CSV, "not_xlsx", "CSV"),
    (b"PK\x03\x04 this is not a zip at all", "not_xlsx", "beschadigd"),
])
def test_not_a_real_xlsx(system, school, content, code, word):
    _inst, admin = school
    body = problem(submit(system, admin, content, filename="leerlingen.xlsx"), 415, code)
    assert word in body["detail"]


def test_macros_and_other_office_files(system, school):
    _inst, admin = school
    body = problem(submit(system, admin, xf.with_macros()), 415, "macros_not_allowed")
    assert "macro" in body["detail"]
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.'
                   'openxmlformats.org/package/2006/content-types"><Override PartName='
                   '"/word/document.xml" ContentType="application/vnd.openxmlformats-'
                   'officedocument.wordprocessingml.document.main+xml"/></Types>')
        z.writestr("word/document.xml", "<w:document/>")
    problem(submit(system, admin, docx.getvalue()), 415, "not_xlsx")


def test_zip_bombs(system, school):
    _inst, admin = school
    bomb = xf.zip_bomb(expanded=40 * 1024 * 1024)
    assert len(bomb) < SERVICE_MAX
    body = problem(submit(system, admin, bomb), 413, "zip_bomb")
    assert "verdacht" in body["detail"]
    # a ratio below 100 but expanding past the cap (2 MB here)
    big = xf.make_list([xf.student_row(i % 3) for i in range(4000)], from_template=False)
    expanded = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(big)).infolist())
    assert expanded > 2 * 1024 * 1024 and expanded < 100 * len(big) and len(big) < SERVICE_MAX
    problem(submit(system, admin, big), 413, "zip_bomb")


def test_row_limit(system, school):
    _inst, admin = school
    too_many = xf.make_list([xf.student_row(i) for i in range(1, 52)], from_template=False)
    body = problem(submit(system, admin, too_many), 422, "too_many_rows")
    assert "50" in body["detail"]
    at_limit = xf.make_list([xf.student_row(i) for i in range(1, 51)], from_template=False)
    r = submit(system, admin, at_limit)
    assert r.status_code == 202, r.text
    up = verdict(system, admin, r.json()["id"])
    assert up["status"] == "awaiting_review" and up["rows"] == 50, up["errors"]


def test_originals_and_reports_kept_until_the_retention(system, school):
    _inst, admin = school
    bad = [{**xf.student_row(1), "BSN": "123456789"}]
    up = verdict(system, admin, submit(system, admin, xf.make_list(bad)).json()["id"])
    assert system.get(f"{API}/uploads/{up['id']}/report.xlsx", token=admin).status_code == 200
    settings = UploadSettings.from_config(system.config)
    folder = storage.submission_dir(settings.data_dir, up["id"])
    assert (folder / storage.ORIGINAL).exists() and (folder / storage.REPORT).exists()
    engine = make_engine(system.config["UPLOADS_DATABASE_URL"])
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    try:
        with UnitOfWork(factory, "uploads") as uow:  # within the retention: kept
            assert handlers.purge_files(uow, settings)["submissions"] == 0
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=settings.retention_days + 1)
        with UnitOfWork(factory, "uploads") as uow:
            assert handlers.purge_files(uow, settings, now=later)["submissions"] == 1
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM submissions")).scalar() == 1
    finally:
        engine.dispose()
    assert not folder.exists()
    up = system.get(f"{API}/uploads/{up['id']}", token=admin).json()
    assert up["purged"] is True and up["status"] == "rejected" and up["errors"]
    problem(system.get(f"{API}/uploads/{up['id']}/report.xlsx", token=admin), 410, "purged")


def test_a_sheet_the_reader_cannot_parse_is_rejected_not_retried(system, school, smtp):
    """Past the door (a well-formed package) but with broken sheet XML: the
    check process fails on it and the list is rejected as unreadable."""
    _inst, admin = school
    src = zipfile.ZipFile(io.BytesIO(xf.make_list([xf.student_row(1), xf.student_row(2)])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b"<row r=\"9\"><c r=\"A9\"><v>1</sheetData>")
            dst.writestr(info.filename, data)
    r = submit(system, admin, out.getvalue())
    assert r.status_code == 202, r.text
    up = verdict(system, admin, r.json()["id"])
    assert up["status"] == "rejected"
    assert [e["code"] for e in up["errors"]] == ["file_unreadable"]
    assert smtp.wait_for("rejected")
