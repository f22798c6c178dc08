"""Use cases of placements: projects, departments (with learning paths),
participations, packages, groups and the placements export.

Each function takes an entered UnitOfWork, does one command or query, commits
with its events where it changes something, and returns plain JSON-able
values. Rules live in rules/.

A student has at most one participation per department of a project and may
have several in one project (next year's forecasts: 60% h4, 40% v4); then each
needs a forecast and together they are at most 100 (rules.forecast_errors).
Every change that adds a participation or changes a forecast or department is
checked over all of the student's participations in the project, with the
student's row locked so two requests cannot each add "the second" one.

Home classes and home-class groups are kept in agreement, per department: a
participation's `home_class` names the home-class group of its department the
student is a member of (a student in two departments may be in one home-class
group of each). Setting a participation's home class moves the membership
within its department when such a group exists; setting the members of a
home-class group sets the home class of those students' participations in the
group's department.

Group memberships when a participation changes department or goes away
(`_drop_for`): the student leaves every group of the project except those of
the departments of their other (remaining) participations; groups without a
department (clusters across departments) are left only when no other
participation remains, because they cannot be told apart by department. With
one participation per student this is what it always was: a department change
or removal drops every membership in the project. The home-class value itself
stays until it is changed, as in the portal this mirrors.
"""
# ruff: noqa: F401  (the names of the modules below, re-exported)
from .projects import (create_department, create_project, get_project, list_departments,
                       list_projects, set_learning_paths, update_department)
from .memberships import drop_memberships
from .participations import (check_new_participations, create_participation, get_participation,
                             list_participations, list_student_participations, participations_in,
                             place_student)
from .participation_changes import delete_participation, remove_participation, update_participation
from .packages import get_package, set_package
from .groups import create_group, list_groups, set_group_members
from .export import PLACEMENTS_HEADER, placements_csv
