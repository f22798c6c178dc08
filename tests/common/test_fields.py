"""One copy of each field rule: every path that accepts personal data or a
student record gives the same verdict (clean value, or code) for the same
value, and the limits are the database's. The paths:

- users:     services/users/account_rules.check_new_user (POST /users, the CSV import's commit)
- students:  services/students/rules.check_new_student / check_participation
- excel:     services/uploads/rules.RowChecker (the student list)
- csv:       services/uploads/imports/previewing._user_values / _part_values (the CSV import's preview)

No broker, no database: the rules are plain functions.
"""
import datetime as dt

import pytest

from services.common import fields as fieldrules
from services.common.errors import DomainError
from services.students import models as student_models
from services.students import rules as student_rules
from services.uploads import columns as colspec
from services.uploads import imports
from services.uploads import rules as upload_rules
from services.users import account_rules
from services.users import models as user_models
from tests.uploads import xlsxfactory as xf

TODAY = dt.date.today()
BSN = "020355889"

OK = "ok"
# (field, value, expected): expected is (OK, clean value) or the error code.
CASES = [
    ("first_name", "Anna\u00a0Maria ", (OK, "Anna Maria")),      # a non-breaking space
    ("first_name", "An\tna", "value_invalid"),
    ("first_name", "x" * 100, (OK, "x" * 100)),
    ("first_name", "x" * 101, "too_long"),
    ("last_name", "x" * 151, "too_long"),
    ("prefix", "van der", (OK, "van der")),
    ("initials", "J.P." * 6, "too_long"),
    ("gender", "female", (OK, "V")),
    ("gender", "Man", (OK, "M")),
    ("gender", "x", (OK, "X")),
    ("gender", "Q", "gender_invalid"),
    ("postcode", "1234ab", (OK, "1234 AB")),
    ("postcode", "2235 SD", "postcode_invalid"),
    ("email", "Jan@School.NL", (OK, "Jan@school.nl")),
    ("email", "jan@", "email_invalid"),
    ("street", "x" * 201, "too_long"),
    ("house_number", "136a", (OK, "136a")),
    ("city", "Apeldoorn", (OK, "Apeldoorn")),
    ("student_number", "12a", "student_number_not_digits"),
    ("student_number", "1" * 21, "too_long"),
    ("student_number", "00123", (OK, "00123")),
    ("bsn", "20355889", (OK, BSN)),                # 8 digits: the lost zero padded
    ("bsn", "3965223", "bsn_leading_zeros_lost"),  # 7: Excel dropped two zeros
    ("bsn", "123456789", "bsn_invalid"),
    ("onderwijsnummer", "123456789", "onderwijsnummer_invalid"),
    ("date_of_birth", "31-02-2011", "date_invalid"),
    ("date_of_birth", "2999-01-01", "date_out_of_range"),
    ("date_of_birth", "03-11-2010", (OK, dt.date(2010, 11, 3))),
    ("year_of_education", "4", (OK, 4)),
    ("track", "x" * 51, "too_long"),
    ("home_class", "x" * 51, "too_long"),
    ("home_class", "4h2", (OK, "4h2")),
    ("department", "x" * 21, "too_long"),
    ("programme", "x" * 100, (OK, "x" * 100)),
    ("programme", "x" * 101, "too_long"),
    ("profile", "x" * 51, "too_long"),
    ("learning_path", "x" * 51, "too_long"),
    ("forecast", "80%", (OK, 80)),
    ("forecast", "101", "forecast_invalid"),
    ("lwoo", "ja", (OK, True)),
    ("lwoo", "misschien", "lwoo_invalid"),
]


def _verdict(errors, field, clean):
    mine = [e for e in errors if e.get("field") == field]
    if mine:
        return mine[0]["code"]
    if isinstance(clean, dt.date):
        return OK, clean
    return OK, clean


# --- the paths ---------------------------------------------------------------------------

def users_path(field, value):
    if fieldrules.FIELDS[field].owner != "users":
        return None
    data = {"code": "1001", "first_name": "Sanne", "last_name": "Jong", field: value}
    clean, errors = account_rules.check_new_user(data)
    return _verdict(errors, field, clean.get(field))


def students_path(field, value):
    if field in ("department", "forecast", "profile", "programme", "learning_path", "lwoo"):
        data = {"department": "h4", field: value}
        clean, errors = student_rules.check_participation(
            data, {"h4": {"id": 1, "code": "h4", "learning_paths": []}})
        if field == "learning_path" and not errors:
            return None  # an unknown path is refused as such: its length rule is what counts
        return _verdict(errors, field, clean.get(field))
    if field == "code":
        return None
    data = {"student_number": "123456", "type": "potential_transfer", "bsn": BSN,
            "initials": "S.", "first_name": "Sanne", "last_name": "Jong", field: value}
    record, personal, errors = student_rules.check_new_student(data)
    clean = record.get(field, personal.get(field))
    return _verdict(errors, field, clean)


EXCEL_TYPE = ("vo", "potential_transfer")


def excel_path(field, value):
    cols = colspec.columns(*EXCEL_TYPE)
    col = next((c for c in cols if c.field == field), None)
    if col is None or field == "year_of_education":
        return None
    positions = {c.field: i for i, c in enumerate(cols)}
    checker = upload_rules.RowChecker(*EXCEL_TYPE, positions, TODAY)
    row = {**xf.student_row(1), col.title: value}
    cells = [row.get(c.title) for c in cols]
    clean, errors = checker.check(2, cells)
    result = (clean or {}).get(field)
    if field == "date_of_birth" and result is not None:
        result = dt.date.fromisoformat(result)
    return _verdict(errors, field, result)


def csv_path(field, value):
    if field in csv_fields("users"):
        fields_ = {"code": 0, field: 1} if field != "code" else {"code": 0}
        values = ["1001", value]
        clean, errors = imports.previewing._user_values(2, values, fields_, ["Code", "Kolom"], False)
    elif field in csv_fields("participations"):
        fields_ = {"student_number": 0, "department": 1}
        values = ["1001", "h4"]
        if field in fields_:
            values[fields_[field]] = value
        else:
            fields_[field] = 2
            values.append(value)
        clean, errors = imports.previewing._part_values(2, values, fields_, ["Leerling", "Afdeling",
                                                                  "Kolom"])
    else:
        return None
    return _verdict(errors, field, clean.get(field))


def csv_fields(kind):
    from services.uploads import csvfile
    return csvfile.FIELDS[kind]


PATHS = {"users": users_path, "students": students_path, "excel": excel_path,
         "csv": csv_path}


@pytest.mark.parametrize("field,value,expected", CASES,
                         ids=[f"{f}-{i}" for i, (f, _v, _e) in enumerate(CASES)])
def test_every_path_gives_the_same_verdict(field, value, expected):
    verdicts = {name: path(field, value) for name, path in PATHS.items()}
    verdicts = {name: v for name, v in verdicts.items() if v is not None}
    if field != "year_of_education":  # only one path checks it
        assert len(verdicts) >= 2, verdicts
    assert all(v == expected for v in verdicts.values()), verdicts


def test_every_field_of_the_table_is_exercised_on_at_least_two_paths():
    covered = {}
    for field, value, _expected in CASES:
        for name, path in PATHS.items():
            if path(field, value) is not None:
                covered.setdefault(field, set()).add(name)
    thin = {f for f in fieldrules.FIELDS if len(covered.get(f, ())) < 2
            and f not in ("code", "year_of_education")}
    assert thin == set(), thin


def test_the_limits_are_the_database_columns():
    tables = [user_models.User.__table__, student_models.Student.__table__,
              student_models.Participation.__table__]
    checked = set()
    for rule in fieldrules.FIELDS.values():
        for table in tables:
            column = table.columns.get(rule.name)
            if column is not None and getattr(column.type, "length", None) is not None:
                assert rule.max_length == column.type.length, (rule.name, table.name)
                checked.add(rule.name)
    assert {"first_name", "postcode", "student_number", "programme", "home_class",
            "department"} - checked <= {"department"}  # department is a reference


def test_the_excel_template_takes_its_limits_from_the_table():
    for cols in colspec.TEMPLATES.values():
        for col in cols:
            assert col.max_length == fieldrules.FIELDS[col.field].max_length


def test_a_missing_bsn_has_one_code_everywhere():
    _record, _personal, errors = student_rules.check_new_student(
        {"student_number": "1", "type": "potential_transfer", "initials": "S.",
         "first_name": "S", "last_name": "J"})
    cols = colspec.columns(*EXCEL_TYPE)
    checker = upload_rules.RowChecker(*EXCEL_TYPE, {c.field: i for i, c in enumerate(cols)},
                                      TODAY)
    row = {**xf.student_row(1), "BSN": None, "Onderwijsnummer": None}
    _clean, excel_errors = checker.check(2, [row.get(c.title) for c in cols])
    assert [e["code"] for e in errors] == [e["code"] for e in excel_errors] == ["bsn_required"]
    assert errors[0]["message"] == excel_errors[0]["message"]


@pytest.mark.parametrize("value, expected", [
    (None, None), ("  ", None), (" Project\u00a0A ", "Project A"), (2026.0, "2026"),
    ("x" * 20, "x" * 20), ("x" * 21, "too_long"), ("a\nb", "value_invalid"),
    (True, "value_invalid"),
])
def test_text_outside_the_table_is_coerced_with_a_limit(value, expected):
    try:
        assert fieldrules.clean_text(value, 20) == expected
    except fieldrules.FieldError as exc:
        assert exc.code == expected


@pytest.mark.parametrize("value, expected", [
    (None, None), (True, True), (False, False), ("true", True), (" FALSE ", False),
    ("1", True), ("0", False), ("ja", "value_invalid"), (1, "value_invalid"),
])
def test_a_yes_no_filter_is_a_bool_or_refused(value, expected):
    try:
        assert fieldrules.clean_flag(value) is expected
    except fieldrules.FieldError as exc:
        assert exc.code == expected
    # the students' list filters read it the same way, in their own words
    try:
        assert student_rules.check_left(value) is expected
    except DomainError as exc:
        assert (exc.code, exc.field) == ("left_invalid", "left")


def test_the_elfproef_agrees_with_python_stdnum():
    from stdnum.nl import bsn as stdnum_bsn
    numbers = [f"{n * 7919 % 10**9:09d}" for n in range(20_000)] + [f"{n:09d}" for n in
                                                                      range(2_000)]
    numbers += ["000000000", BSN, "100000009", "999999990"]
    assert [fieldrules.elfproef(n) for n in numbers] == \
        [stdnum_bsn.is_valid(n) for n in numbers]
    assert sum(map(fieldrules.elfproef, numbers)) > 1000  # valid ones among them


def test_iso_dates_take_the_short_way_and_nonexistent_ones_are_explained():
    import datetime as dt

    from services.common.fields import FieldError, parse_date
    assert parse_date("2010-05-17") == dt.date(2010, 5, 17)
    assert parse_date(" 2012-02-29 ") == dt.date(2012, 2, 29)
    with pytest.raises(FieldError) as info:
        parse_date("2011-02-31")
    assert info.value.kw["variant"] == "date_nonexistent"
