"""Business rules of the students service as pure functions.

Validation and normalisation of student records, projects, departments,
learning paths, participations, packages and groups; the BSN rule of a
potential transfer; school years; who may change what in a participation.
Nothing here touches a database or the broker: functions take values and
return values, or error items (services/common/errors.py) / DomainErrors.

Error items never carry a BSN or onderwijsnummer, not even a rejected one.
"""
# ruff: noqa: F401  (the names of the modules below, re-exported)
from services.common.paging import page_args

from .messages import (ADMIN_ROLES, AUTHORITIES, GROUP_KINDS, IDENTIFIER_FIELDS, LABELS,
                       LEAVE_DAYS_AHEAD, LEAVE_DAYS_BACK, MAX_BATCH_ROWS, MENTOR_FIELDS, MESSAGES,
                       PARTICIPATION_FIELDS, PARTICIPATION_READ_ONLY, PERSONAL_FIELDS,
                       READ_ONLY_FIELDS, RECORD_FIELDS, STUDENT_NUMBER_MAX, STUDENT_TYPES, item,
                       label, message, required_item, too_long_item, unknown_field_item,
                       value_invalid_item)
from .coerce import InvalidValue, clean_bool, clean_date, clean_int, clean_text, parse_date, text
from .records import (bsn_exists_message, bsn_or_none, check_identity, check_left,
                      check_list_filters, check_new_student, check_registered,
                      check_student_changes, clean_bsn, clean_leave_date, clean_onderwijsnummer,
                      clean_student_number, clean_type, leave_status, rows_error,
                      student_exists_message)
from .school_years import next_school_year, parse_school_year, school_year_of
from .projects import (DEPARTMENT_CHANGEABLE, check_department, check_department_changes,
                       check_learning_paths, check_project)
from .participations import (FORECAST_TOTAL_MAX, actor_roles, check_home_class_authority,
                             check_package, check_participation, check_participation_changes,
                             check_participation_permission, check_student_participations,
                             clean_codes, department_unknown_item, duplicate_department,
                             forecast_errors, is_admin, learning_path_codes, participation_exists)
from .groups import check_group, clean_student_numbers
from .mentors import (HOME_CLASS_MAX, MENTOR_CLASSES_MAX, check_mentor, clean_mentor_classes,
                      mentor_may_change)
