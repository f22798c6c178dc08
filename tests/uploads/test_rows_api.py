"""GET /uploads/{id}/rows (the review page's rows, paged, identifiers masked)
and GET /public/uploads/template (the public page's template, no account)."""
import io

from openpyxl import load_workbook

from services.uploads import columns as colspec
from tests.helpers import make_admin, make_institution
from tests.uploads import xlsxfactory as xf
from tests.uploads.conftest import API, problem, submit, verdict


def test_rows_are_paged_masked_and_scoped(system, school):
    inst, admin = school
    rows = [xf.student_row(i) for i in range(1, 8)]
    up = verdict(system, admin, submit(system, admin, xf.make_list(rows)).json()["id"])
    assert up["status"] == "awaiting_review", up["errors"]

    r = system.get(f"{API}/uploads/{up['id']}/rows?page=3&page_size=3")
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == 7 and page["page"] == 3 and page["available"] is True
    [last] = page["items"]
    assert last["row"] == 8  # header is row 1
    assert last["student_number"] == rows[6]["Leerlingnummer"]
    assert last["first_name"] == rows[6]["Voornaam"]
    bsn = rows[6]["BSN"]
    assert last["bsn"] == "*****" + bsn[-4:] and bsn not in r.text

    first = system.get(f"{API}/uploads/{up['id']}/rows?page_size=2", token=admin).json()
    assert [i["row"] for i in first["items"]] == [2, 3]

    other = make_institution(system, brin="11CD", name="Ander College")
    stranger = make_admin(system, other, code="ander")
    problem(system.get(f"{API}/uploads/{up['id']}/rows", token=stranger), 404)
    problem(system.get(f"{API}/uploads/{up['id']}/rows?page_size=501"), 422)


def test_rejected_list_has_no_rows(system, school):
    _inst, admin = school
    bad = xf.student_row(1)
    bad["BSN"] = "123456789"
    up = verdict(system, admin, submit(system, admin, xf.make_list([bad])).json()["id"])
    assert up["status"] == "rejected"
    page = system.get(f"{API}/uploads/{up['id']}/rows").json()
    assert page == {"items": [], "total": 0, "page": 1, "page_size": 50, "available": False}


def test_public_template_needs_no_account(system):
    r = system.get(f"{API}/public/uploads/template?school_type=mbo&student_type=non_transfer",
                   token="")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(r.content))[colspec.SHEET_TITLE]
    titles = [c.value for c in sheet[1] if c.value]
    assert titles == [c.title for c in colspec.columns("mbo", "non_transfer")]
    problem(system.get(f"{API}/public/uploads/template?school_type=hbo&student_type=x",
                       token=""), 422)
