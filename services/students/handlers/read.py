"""Reading students: one, or a filtered page of them."""
import sqlalchemy as sa

from services.common.errors import forbidden

from .. import lookups, rules
from ..models import Student, students
from .support import _audit, _id_fields, _release, _user_of


def get_student(uow, users, institution_id, student_number, reveal_bsn=False, actor=None):
    """The student with personal data. `reveal_bsn` (admins only) shows BSN
    and onderwijsnummer unmasked and writes a `reveal` audit row."""
    session = uow.session
    student = lookups.load_student(session, institution_id, student_number)
    if reveal_bsn:
        if not rules.is_admin(actor):
            raise forbidden(rules.message("reveal_forbidden"))
        fields = _id_fields(student.bsn, student.onderwijsnummer)
        if fields:
            _audit(session, student, "reveal", fields, actor)
    _release(uow)
    return lookups.student_view(student, _user_of(users, student.institution_id,
                                                  student.student_number),
                                reveal=bool(reveal_bsn))


def list_students(uow, users, institution_id, q=None, home_class=None,
                  year_of_education=None, track=None, registered=None, type=None,
                  page=1, page_size=50, left=None):
    """Students of the institution, ordered by student number, masked.

    `q` matches name or e-mail (through users.find_codes), the student number
    (also as a substring, as the user's code) or, when it is a valid BSN, the
    exact BSN. `registered` keeps students who have (not) logged in. `left`
    false leaves out students who left school (a planned leave still shows);
    true keeps only them.
    """
    page, page_size = rules.page_args(page, page_size)
    home_class, year, track, student_type = rules.check_list_filters(
        home_class, year_of_education, track, type)
    registered = rules.check_registered(registered)
    left = rules.check_left(left)
    iid = lookups.to_id(institution_id)
    if iid is None:
        return lookups.page_result([], 0, page, page_size)
    try:
        q = rules.text(q) if not isinstance(q, bool) else None
    except rules.InvalidValue:
        q = None
    conditions = [students.c.institution_id == iid]
    if home_class is not None:
        conditions.append(sa.func.lower(students.c.home_class) == home_class.lower())
    if year is not None:
        conditions.append(students.c.year_of_education == year)
    if track is not None:
        conditions.append(sa.func.lower(students.c.track) == track.lower())
    if student_type is not None:
        conditions.append(students.c.type == student_type)
    if left is not None:
        conditions.append(students.c.left_at.is_not(None) if left
                          else students.c.left_at.is_(None))
    if q:
        matches = [students.c.student_number == q]
        codes = users.find_codes(iid, q=q, registered=None)
        if codes:
            matches.append(students.c.student_number.in_(codes))
        bsn = rules.bsn_or_none(q)
        if bsn is not None:
            matches.append(students.c.bsn == bsn)
        conditions.append(sa.or_(*matches))
    if registered is not None:
        signed_in = users.find_codes(iid, registered=True)
        clause = students.c.student_number.in_(signed_in)
        conditions.append(clause if registered else sa.not_(clause))
    session = uow.session
    query = sa.select(Student).where(*conditions)
    total = session.execute(
        sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    found = list(session.execute(
        query.order_by(sa.func.length(Student.student_number), Student.student_number)
        .limit(page_size).offset((page - 1) * page_size)).scalars())
    _release(uow)
    people = {}
    if found:
        people = {u["code"]: u for u in users.get_users(iid, [s.student_number for s in found])}
    items = [lookups.student_view(s, people.get(s.student_number)) for s in found]
    return lookups.page_result(items, total, page, page_size)
