"""The BSN audit trail, and the BSNs of student numbers for the uploads service."""
import sqlalchemy as sa

from services.common import bulk

from .. import lookups, rules
from ..lookups import iso
from ..models import BsnAudit, Student


def bsn_audit_trail(uow, institution_id, student_number=None, page=1, page_size=50):
    """Who created, changed or revealed BSNs/onderwijsnummers, newest first."""
    page, page_size = rules.page_args(page, page_size)
    iid = lookups.to_id(institution_id)
    query = sa.select(BsnAudit).where(BsnAudit.institution_id == (iid if iid is not None
                                                                  else -1))
    if student_number is not None:
        number = lookups.student_number_arg(student_number)
        query = query.where(BsnAudit.student_number == (number or ""))
    session = uow.session
    total = session.execute(
        sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(BsnAudit.at.desc(), BsnAudit.id.desc())
                           .limit(page_size).offset((page - 1) * page_size)).scalars()
    items = [{"id": a.id, "student_number": a.student_number, "action": a.action,
              "fields": a.fields.split(",") if a.fields else [],
              "actor_user_id": a.actor_user_id, "actor_code": a.actor_code,
              "at": iso(a.at)} for a in rows]
    return lookups.page_result(items, total, page, page_size)


def bsn_by_student_numbers(uow, institution_id, student_numbers):
    """{student number: BSN or None} for those of `student_numbers` that exist
    in the institution. The uploads service compares them with a list's BSNs
    (a number that exists with another BSN) and skips existing students when
    loading; it never shows them."""
    iid = lookups.to_id(institution_id)
    if iid is None or not isinstance(student_numbers, (list, tuple)):
        return {}
    wanted = list(dict.fromkeys(n for n in student_numbers if isinstance(n, str) and n))
    found = {}
    for chunk in lookups.chunks(wanted):
        for number, bsn in uow.session.execute(
                sa.select(Student.student_number, Student.bsn)
                .where(Student.institution_id == iid,
                       bulk.among(uow.session, Student.student_number, chunk))):
            found[number] = bsn
    return found

