"""Groups (home classes and clusters) and their members."""
import sqlalchemy as sa

from services.common.errors import conflict, error_item, validation_error
from services.common.outbox import utcnow

from .. import lookups, rules
from ..models import Department, Group, Participation, Student, group_members
from .memberships import _department_codes, _home_class_event, _members_event


def create_group(uow, institution_id, project_id, data):
    session = uow.session
    project = lookups.load_project(session, institution_id, project_id)
    clean = rules.check_group(data)
    dept = None
    if clean["department"] is not None:
        dept = lookups.departments_of(session, project.id).get(clean["department"])
        if dept is None:
            raise validation_error([rules.department_unknown_item(clean["department"])])
    exists = conflict("group_exists", f"Groep {clean['code']} bestaat al in dit roosterproject.",
                      field="code")
    taken = sa.select(Group.id).where(Group.project_id == project.id,
                                      Group.code == clean["code"])
    group = lookups.add_unique(uow, Group(
        institution_id=project.institution_id, project_id=project.id, code=clean["code"],
        department_id=dept.id if dept else None, kind=clean["kind"], subject=clean["subject"],
        created_at=utcnow()), taken, exists)
    return lookups.group_view(group, dept.code if dept else None, [])


def list_groups(uow, institution_id, project_id, page=1, page_size=500):
    session = uow.session
    project = lookups.load_project(session, institution_id, project_id)
    page, page_size = rules.page_args(page, page_size, default_size=500)
    query = sa.select(Group).where(Group.project_id == project.id)
    total = session.execute(
        sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    items = list(session.execute(query.order_by(Group.code).limit(page_size)
                                 .offset((page - 1) * page_size)).scalars())
    codes = _department_codes(session, [g.department_id for g in items])
    members = lookups.members_of(session, [g.id for g in items])
    return lookups.page_result(
        [lookups.group_view(g, codes.get(g.department_id), members[g.id]) for g in items],
        total, page, page_size)


def set_group_members(uow, institution_id, group_id, student_numbers, actor=None):
    """Replace a group's members. Each must have a participation in the
    group's project (in the group's department for a home-class group: a
    student placed in several departments counts with that one); errors name
    the 1-based position as `row`. For a home-class group the members'
    participations in its department get this home class (and leave the
    department's other home-class groups); removed members lose it."""
    session = uow.session
    group = lookups.load_group(session, institution_id, group_id)
    numbers, errors = rules.clean_student_numbers(student_numbers)
    rows = _placed(session, group, numbers)
    codes = _department_codes(session, [group.department_id])
    dept_code = codes.get(group.department_id)
    if group.kind == "home_class" and group.department_id is not None:
        authority = session.execute(sa.select(Department.home_class_authority).where(
            Department.id == group.department_id)).scalar_one()
        rules.check_home_class_authority(actor, authority, dept_code)
    for index, number in enumerate(numbers, 1):
        found = rows.get(number)
        if found is None:
            errors.append(error_item("student_unknown", f"Er is geen leerling met "
                                     f"leerlingnummer {number}.", field="student_numbers",
                                     row=index))
        elif not found[1]:
            errors.append(error_item("not_participating", f"Leerling {number} heeft geen "
                                     f"afdelingsdeelname in dit roosterproject.",
                                     field="student_numbers", row=index))
        elif group.kind == "home_class" and group.department_id not in found[1]:
            errors.append(error_item("not_in_department", f"Leerling {number} zit niet in "
                                     f"afdeling {dept_code}.", field="student_numbers",
                                     row=index))
    if errors:
        raise validation_error(sorted(errors, key=lambda e: e.get("row") or 0))

    old = set(lookups.members_of(session, [group.id])[group.id])
    new = set(numbers)
    added, removed = new - old, old - new
    if removed and group.kind == "home_class":
        rows.update(_placed(session, group, sorted(removed)))
    if not added and not removed:
        return lookups.group_view(group, dept_code, lookups.members_of(session, [group.id])
                                  [group.id])
    session.execute(sa.delete(group_members).where(group_members.c.group_id == group.id))
    if numbers:
        session.execute(sa.insert(group_members),
                        [{"group_id": group.id, "student_id": rows[n][0]} for n in numbers])
    if group.kind == "home_class":
        _apply_home_class_group(uow, group, dept_code, rows, added, removed)
    _members_event(uow, group, dept_code, added, removed)
    uow.commit()
    return lookups.group_view(group, dept_code, lookups.members_of(session, [group.id])
                              [group.id])


def _placed(session, group, numbers):
    """{student_number: (student_id, {department_id: participation_id})} in the
    group's project, for the institution's students among `numbers` (an empty
    dict: not placed in the project)."""
    rows = {}
    for chunk in lookups.chunks(numbers):
        for number, student_id, part_id, dept_id in session.execute(
                sa.select(Student.student_number, Student.id, Participation.id,
                          Participation.department_id)
                .outerjoin(Participation, sa.and_(Participation.student_id == Student.id,
                                                  Participation.project_id == group.project_id))
                .where(Student.institution_id == group.institution_id,
                       Student.student_number.in_(chunk))):
            _sid, parts = rows.setdefault(number, (student_id, {}))
            if part_id is not None:
                parts[dept_id] = part_id
    return rows


def _apply_home_class_group(uow, group, dept_code, rows, added, removed):
    session = uow.session
    now = utcnow()
    if added:
        added_ids = [rows[n][0] for n in added]
        # one home class per department: leave the department's other home-class groups
        others = list(session.execute(
            sa.select(Group).join(group_members, group_members.c.group_id == Group.id)
            .where(Group.project_id == group.project_id, Group.kind == "home_class",
                   Group.department_id == group.department_id,
                   Group.id != group.id, group_members.c.student_id.in_(added_ids))
            .distinct()).scalars())
        if others:
            left = {}
            for other in others:
                ids = set(session.execute(sa.select(group_members.c.student_id).where(
                    group_members.c.group_id == other.id,
                    group_members.c.student_id.in_(added_ids))).scalars())
                left[other.id] = ids
            session.execute(sa.delete(group_members).where(
                group_members.c.group_id.in_([o.id for o in others]),
                group_members.c.student_id.in_(added_ids)))
            by_id = {rows[n][0]: n for n in added}
            codes = _department_codes(session, [o.department_id for o in others])
            for other in others:
                _members_event(uow, other, codes.get(other.department_id), [],
                               [by_id[i] for i in left[other.id]])
    changed = [(n, group.code) for n in added] + [(n, None) for n in removed]
    for number, home_class in changed:
        part_id = rows[number][1].get(group.department_id) if number in rows else None
        part = session.get(Participation, part_id) if part_id is not None else None
        if part is None:  # a removed member whose participation is gone
            continue
        if number in removed and part.home_class != group.code:
            continue
        if part.home_class != home_class:
            old = part.home_class
            part.home_class = home_class
            part.updated_at = now
            _home_class_event(uow, part, number, dept_code, old, home_class)
