"""The manuals' flows, driven over HTTP against the whole running system.

Each test file is named after a manual in the shared manuals folder and each
test after the chapter it walks, from its first step to its last, as a school
does it: the `system` fixture (tests/conftest.py) runs all five services and
the gateway; `school` is an institution with an administrator, a scheduler
and a mentor, with helpers that do what those people do through the API.
"""
import csv
import io

import pytest

from services.students.rules import next_school_year, school_year_of
from services.students.handlers import today
from tests.helpers import wait_until  # noqa: F401  (used by the flows)
from tests.sync.conftest import API, PASSWORD, School, ok, problem  # noqa: F401

THIS_YEAR = school_year_of(today())
NEXT_YEAR = next_school_year(THIS_YEAR)


class FlowSchool(School):
    """School (tests/sync/conftest.py) plus a mentor and the steps the manuals name."""

    def __init__(self, api, brin="05KQ", name="Het Lyceum"):
        super().__init__(api, brin, name)
        self.mentor = self.user("mentor1", ["mentor"])

    def get(self, path, token=None, status=200):
        return ok(self.api.get(f"{API}{path}", token=token or self.admin), status)

    def project_for(self, school_year, departments):
        """A schedule project of `school_year` with (code, year, authority) departments."""
        project = self.post("/projects", {"name": f"Rooster {school_year}",
                                          "school_year": school_year,
                                          "branch": "Hoofdvestiging"})
        for code, year, authority in departments:
            self.post(f"/projects/{project['id']}/departments", {
                "code": code, "year_of_education": year, "education": "havo",
                "home_class_authority": authority})
        return project

    def csv_import(self, kind, text, columns, **options):
        """Upload a CSV export, label its columns, preview; returns (import, preview)."""
        r = self.api.post(f"{API}/imports", token=self.admin, data={"kind": kind},
                          files={"file": ("export.csv", text.encode("utf-8"), "text/csv")})
        imp = ok(r, 201)
        preview = ok(self.api.put(f"{API}/imports/{imp['id']}/mapping", token=self.admin,
                                  json={"columns": columns, **options}))
        return imp, preview

    def commit(self, import_id):
        return ok(self.api.post(f"{API}/imports/{import_id}/commit", token=self.admin))

    def participations(self, project_id, **query):
        query.setdefault("page_size", 500)
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        return self.get(f"/projects/{project_id}/participations?{qs}")["items"]

    def placements_csv(self, project_id):
        r = self.api.get(f"{API}/projects/{project_id}/placements.csv", token=self.admin)
        assert r.status_code == 200, r.text
        return list(csv.reader(io.StringIO(r.text), delimiter=";"))


@pytest.fixture
def school(system):
    return FlowSchool(system)
