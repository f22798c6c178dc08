"""The placements export (CSV) of a project."""
import csv
import io

import sqlalchemy as sa

from services.common import safecells

from .. import lookups
from ..models import Department, Participation, Student


PLACEMENTS_HEADER = ("leerlingnummer", "afdeling", "leerpad", "elementcode")


def placements_csv(uow, institution_id, project_id):
    """`leerlingnummer;afdeling;leerpad;elementcode` per participation (UTF-8
    text, CRLF line ends; a formula-like value gets a leading apostrophe,
    services/common/safecells.py) for the administration: one row per participation
    (a student in two departments has two), sorted by student number, then
    department."""
    session = uow.session
    project = lookups.load_project(session, institution_id, project_id)
    departments = {d.id: d for d in lookups.departments_of(session, project.id).values()}
    rows = session.execute(
        sa.select(Student.student_number, Participation.department_id,
                  Participation.learning_path)
        .join(Student, Student.id == Participation.student_id)
        .join(Department, Department.id == Participation.department_id)
        .where(Participation.project_id == project.id)
        .order_by(sa.func.length(Student.student_number), Student.student_number,
                  Department.code)).all()
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(safecells.csv_row(PLACEMENTS_HEADER))
    for number, dept_id, path in rows:
        dept = departments[dept_id]
        element = next((p.get("element_code") for p in dept.learning_paths or []
                        if p.get("code") == path), None) if path else None
        writer.writerow(safecells.csv_row([number, dept.code, path, element]))
    return out.getvalue()
