"""Group memberships as participations change: dropping them, and keeping a
participation's home class and its home-class group in agreement."""
import sqlalchemy as sa

from .. import lookups
from ..models import Department, Group, group_members


def _members_event(uow, group, department_code, added, removed):
    members = lookups.members_of(uow.session, [group.id])[group.id]
    uow.add_event("group_members_changed", group.institution_id, {
        "group_id": group.id, "project_id": group.project_id, "code": group.code,
        "kind": group.kind, "department": department_code,
        "added": sorted(added), "removed": sorted(removed), "student_numbers": members})


def _department_codes(session, department_ids):
    ids = [i for i in set(department_ids) if i is not None]
    if not ids:
        return {}
    return dict(session.execute(
        sa.select(Department.id, Department.code).where(Department.id.in_(ids))).all())


def drop_memberships(uow, project_id, student_id, student_number, keep_department_ids=(),
                     keep_departmentless=False):
    """Remove the student from the groups of the project, except groups of
    `keep_department_ids` and, with `keep_departmentless`, groups without a
    department; one group_members_changed per group. Returns the codes."""
    session = uow.session
    keep = set(keep_department_ids)
    dropped = [g for g in lookups.groups_of_student(session, project_id, student_id)
               if not (g.department_id in keep
                       or (g.department_id is None and keep_departmentless))]
    if not dropped:
        return []
    session.execute(sa.delete(group_members).where(
        group_members.c.student_id == student_id,
        group_members.c.group_id.in_([g.id for g in dropped])))
    codes = _department_codes(session, [g.department_id for g in dropped])
    for group in dropped:
        _members_event(uow, group, codes.get(group.department_id), [], [student_number])
    return [g.code for g in dropped]


def _sync_home_class_group(uow, part, student_number, home_class):
    """Make the student's home-class group membership in the participation's
    department agree with `home_class`: leave the department's other
    home-class groups, join the group with that code when it exists. Home-class
    groups of the student's other departments are not touched."""
    session = uow.session
    current = [g for g in lookups.groups_of_student(session, part.project_id, part.student_id)
               if g.kind == "home_class" and g.department_id == part.department_id]
    target = None
    if home_class is not None:
        target = session.execute(sa.select(Group).where(
            Group.project_id == part.project_id, Group.kind == "home_class",
            Group.code == home_class, Group.department_id == part.department_id)
        ).scalar_one_or_none()
    leave = [g for g in current if target is None or g.id != target.id]
    codes = _department_codes(session, [g.department_id for g in leave]
                              + ([target.department_id] if target else []))
    if leave:
        session.execute(sa.delete(group_members).where(
            group_members.c.student_id == part.student_id,
            group_members.c.group_id.in_([g.id for g in leave])))
        for group in leave:
            _members_event(uow, group, codes.get(group.department_id), [], [student_number])
    if target is not None and all(g.id != target.id for g in current):
        session.execute(sa.insert(group_members).values(group_id=target.id,
                                                        student_id=part.student_id))
        _members_event(uow, target, codes.get(target.department_id), [student_number], [])


def _home_class_event(uow, part, student_number, department_code, old, new):
    uow.add_event("home_class_changed", part.institution_id, {
        "participation_id": part.id, "project_id": part.project_id,
        "student_number": student_number, "department": department_code,
        "old": old, "new": new})
