"""The students service's rules as pure functions (no database, no broker)."""
import datetime as dt

import pytest

from services.common.errors import DomainError
from services.students import rules

BSN = "100000009"
BSN_8 = "10000008"          # valid as 010000008
ONDERWIJSNUMMER = "100000004"

ADMIN = {"user_id": 1, "code": "beheer", "roles": ["admin"]}
MENTOR = {"user_id": 2, "code": "mentor", "roles": ["mentor"]}


def new(**kw):
    data = {"student_number": "123456", "type": "potential_transfer", "bsn": BSN,
            "initials": "S.", "first_name": "Sanne", "last_name": "Jong"}
    data.update(kw)
    return data


def codes(errors):
    return [(e["code"], e.get("field")) for e in errors]


# --- student records -------------------------------------------------------------

def test_valid_new_student_splits_record_and_personal_data():
    record, personal, errors = rules.check_new_student(new(
        prefix="de", email="sanne@example.nl", date_of_birth="2010-03-04",
        year_of_education="4", track=" havo ", home_class="h4a", unknown="ignored"))
    assert errors == []
    assert record == {"student_number": "123456", "type": "potential_transfer", "bsn": BSN,
                      "onderwijsnummer": None, "date_of_birth": dt.date(2010, 3, 4),
                      "year_of_education": 4, "track": "havo", "home_class": "h4a"}
    assert personal == {"initials": "S.", "first_name": "Sanne", "prefix": "de",
                        "last_name": "Jong", "email": "sanne@example.nl"}


def test_student_number_digits_only():
    _r, _p, errors = rules.check_new_student(new(student_number="A123"))
    assert codes(errors) == [("student_number_not_digits", "student_number")]
    assert errors[0]["message"] == "Leerlingnummer mag alleen cijfers bevatten."
    record, _p, errors = rules.check_new_student(new(student_number=20355889.0))
    assert errors == [] and record["student_number"] == "20355889"
    _r, _p, errors = rules.check_new_student(new(student_number=None))
    assert codes(errors) == [("required", "student_number")]


def test_eight_digit_bsn_is_left_padded():
    record, _p, errors = rules.check_new_student(new(bsn=BSN_8))
    assert errors == [] and record["bsn"] == "010000008"
    record, _p, errors = rules.check_new_student(new(bsn=10000008))  # Excel number
    assert errors == [] and record["bsn"] == "010000008"


def test_potential_transfer_needs_bsn_or_onderwijsnummer():
    _r, _p, errors = rules.check_new_student(new(bsn=None))
    assert codes(errors) == [("bsn_required", "bsn")]
    assert "potentiële overstapper" in errors[0]["message"]
    _r, _p, errors = rules.check_new_student(new(bsn="  "))
    assert codes(errors) == [("bsn_required", "bsn")]
    record, _p, errors = rules.check_new_student(new(bsn=None,
                                                     onderwijsnummer=ONDERWIJSNUMMER))
    assert errors == [] and record["onderwijsnummer"] == ONDERWIJSNUMMER


def test_bad_bsn_and_bad_onderwijsnummer():
    _r, _p, errors = rules.check_new_student(new(bsn="123456789"))
    assert codes(errors) == [("bsn_invalid", "bsn")]
    assert "123456789" not in errors[0]["message"]  # never echo a (wrong) BSN
    _r, _p, errors = rules.check_new_student(new(bsn=None, onderwijsnummer="100000005"))
    assert codes(errors) == [("onderwijsnummer_invalid", "onderwijsnummer")]
    # a bad BSN is bad even when an onderwijsnummer is valid
    _r, _p, errors = rules.check_new_student(new(bsn="12", onderwijsnummer=ONDERWIJSNUMMER))
    assert codes(errors) == [("bsn_invalid", "bsn")]


def test_non_transfer_needs_no_bsn_but_a_given_one_must_be_valid():
    record, _p, errors = rules.check_new_student(new(type="non_transfer", bsn=None))
    assert errors == [] and record["bsn"] is None
    _r, _p, errors = rules.check_new_student(new(type="non_transfer", bsn="999"))
    assert codes(errors) == [("bsn_invalid", "bsn")]


def test_other_record_fields():
    _r, _p, errors = rules.check_new_student(new(type="transfer", date_of_birth="3 maart",
                                                 year_of_education=11))
    assert codes(errors) == [("student_type_invalid", "type"),
                             ("date_invalid", "date_of_birth"),
                             ("year_of_education_invalid", "year_of_education")]
    _r, _p, errors = rules.check_new_student(new(date_of_birth="2999-01-01"))
    assert codes(errors) == [("date_out_of_range", "date_of_birth")]  # the shared rule's code
    record, _p, errors = rules.check_new_student(new(date_of_birth="04-03-2010"))
    assert errors == [] and record["date_of_birth"].isoformat() == "2010-03-04"


def test_initials_required_for_one_student_not_for_a_batch_row():
    data = new()
    del data["initials"]
    assert codes(rules.check_new_student(data)[2]) == [("required", "initials")]
    assert rules.check_new_student(data, require_initials=False)[2] == []
    _r, _p, errors = rules.check_new_student(new(first_name=" ", last_name=None))
    assert codes(errors) == [("required", "first_name"), ("required", "last_name")]


def test_changes():
    current = {"student_number": "123456", "type": "potential_transfer", "bsn": BSN,
               "onderwijsnummer": None, "date_of_birth": None, "year_of_education": 3,
               "track": None, "home_class": "3a"}
    updates, personal, errors = rules.check_student_changes(current, {
        "home_class": "4a", "year_of_education": 3, "first_name": "Sanna", "id": 9,
        "student_number": "123456"})
    assert errors == [] and updates == {"home_class": "4a"}
    assert personal == {"first_name": "Sanna"}

    _u, _p, errors = rules.check_student_changes(current, {"student_number": "654321",
                                                           "colour": "red"})
    assert codes(errors) == [("field_immutable", "student_number"),
                             ("field_unknown", "colour")]
    # dropping the BSN of a potential transfer needs an onderwijsnummer
    _u, _p, errors = rules.check_student_changes(current, {"bsn": None})
    assert codes(errors) == [("bsn_required", "bsn")]
    updates, _p, errors = rules.check_student_changes(
        current, {"bsn": None, "onderwijsnummer": ONDERWIJSNUMMER})
    assert errors == [] and updates == {"bsn": None, "onderwijsnummer": ONDERWIJSNUMMER}
    updates, _p, errors = rules.check_student_changes(current, {"bsn": BSN_8})
    assert errors == [] and updates == {"bsn": "010000008"}
    _u, _p, errors = rules.check_student_changes(current, {"last_name": ""})
    assert codes(errors) == [("required", "last_name")]
    non = dict(current, type="non_transfer", bsn=None)
    _u, _p, errors = rules.check_student_changes(non, {"type": "potential_transfer"})
    assert codes(errors) == [("bsn_required", "bsn")]


# --- institution years and projects ---------------------------------------------------------

def test_school_years():
    assert rules.parse_school_year("2025-2026") == "2025-2026"
    assert rules.parse_school_year("2025/2026") == "2025-2026"
    assert rules.parse_school_year("2025-2027") is None
    assert rules.parse_school_year("25-26") is None
    assert rules.school_year_of(dt.date(2026, 7, 31)) == "2025-2026"
    assert rules.school_year_of(dt.date(2026, 8, 1)) == "2026-2027"
    assert rules.next_school_year("2025-2026") == "2026-2027"


def test_project():
    assert rules.check_project({"name": " Rooster ", "school_year": "2025-2026",
                                "branch": "Hoofdvestiging"}) == {
        "name": "Rooster", "school_year": "2025-2026", "branch": "Hoofdvestiging"}
    with pytest.raises(DomainError) as exc:
        rules.check_project({"name": "R", "school_year": "2025-2027", "branch": "H"})
    assert (exc.value.code, exc.value.field, exc.value.status) == (
        "school_year_invalid", "school_year", 422)


def test_department_and_learning_paths():
    dept = rules.check_department({"code": "h4", "year_of_education": 4, "education": "havo",
                                   "learning_paths": [{"code": "H4NT", "name": "NT",
                                                       "element_code": "E1"}]})
    assert dept["home_class_authority"] == "portal"
    assert dept["learning_paths"] == [{"code": "H4NT", "name": "NT", "element_code": "E1"}]
    with pytest.raises(DomainError) as exc:
        rules.check_department({"code": "h4", "home_class_authority": "beide"})
    assert exc.value.code == "home_class_authority_invalid"
    errors = []
    rules.check_learning_paths([{"code": "A", "element_code": "1"},
                                {"code": "A", "element_code": "2"},
                                {"code": "B"}], errors)
    assert codes(errors) == [("learning_path_duplicate", "learning_paths.code"),
                             ("required", "learning_paths.element_code")]


# --- participations ----------------------------------------------------------------------

DEPTS = {"h4": {"id": 1, "code": "h4", "home_class_authority": "portal",
                "learning_paths": [{"code": "H4NT", "name": None, "element_code": "E1"}]},
         "v4": {"id": 2, "code": "v4", "home_class_authority": "desktop",
                "learning_paths": [{"code": "V4NT", "name": None, "element_code": "E2"}]}}


def test_new_participation():
    clean, errors = rules.check_participation(
        {"department": "h4", "forecast": "80", "learning_path": "H4NT", "lwoo": "ja"}, DEPTS)
    assert errors == []
    assert clean == {"department": "h4", "forecast": 80, "profile": None, "programme": None,
                     "learning_path": "H4NT", "home_class": None, "lwoo": True}
    _c, errors = rules.check_participation({"department": "h5", "forecast": 101}, DEPTS)
    assert codes(errors) == [("forecast_invalid", "forecast"), ("department_unknown",
                                                                 "department")]
    _c, errors = rules.check_participation({"department": "h4", "learning_path": "V4NT"},
                                           DEPTS)
    assert codes(errors) == [("learning_path_unknown", "learning_path")]
    _c, errors = rules.check_participation({"department": "h4", "forecast": -1, "lwoo": 3},
                                           DEPTS)
    assert codes(errors) == [("forecast_invalid", "forecast"), ("lwoo_invalid", "lwoo")]


def test_department_change_needs_keep_package_and_clears_a_foreign_learning_path():
    current = {"department": "h4", "forecast": 80, "profile": None, "programme": None,
               "learning_path": "H4NT", "home_class": "h4a", "lwoo": False}
    _u, _k, errors = rules.check_participation_changes(current, {"department": "v4"}, DEPTS)
    assert codes(errors) == [("keep_package_required", "keep_package")]
    updates, keep, errors = rules.check_participation_changes(
        current, {"department": "v4", "keep_package": False}, DEPTS)
    assert errors == [] and keep is False
    assert updates == {"department": "v4", "learning_path": None}
    updates, keep, errors = rules.check_participation_changes(
        current, {"department": "v4", "keep_package": True, "learning_path": "V4NT"}, DEPTS)
    assert errors == [] and keep is True
    assert updates == {"department": "v4", "learning_path": "V4NT"}
    # the same department is no change: keep_package is not asked
    updates, _k, errors = rules.check_participation_changes(
        current, {"department": "h4", "forecast": 60}, DEPTS)
    assert errors == [] and updates == {"forecast": 60}
    _u, _k, errors = rules.check_participation_changes(current, {"forecast": 200,
                                                                 "colour": 1}, DEPTS)
    assert codes(errors) == [("field_unknown", "colour"), ("forecast_invalid", "forecast")]


def test_mentor_rule():
    rules.check_participation_permission(None, ["department"])   # service call
    rules.check_participation_permission(ADMIN, ["department", "home_class"])
    rules.check_participation_permission(MENTOR, ["forecast", "home_class"])
    with pytest.raises(DomainError) as exc:
        rules.check_participation_permission(MENTOR, ["profile"])
    assert exc.value.code == "forbidden"
    both = {"roles": ["mentor", "admin"]}
    rules.check_participation_permission(both, ["profile"])
    with pytest.raises(DomainError):
        rules.check_participation_permission({"roles": ["scheduler"]}, ["forecast"])


def test_home_class_authority_rule():
    for who in (None, {"roles": ["scheduler"]}):   # the desktop's own uploads
        rules.check_home_class_authority(who, "desktop", "h4")
    for who in (ADMIN, MENTOR, {"roles": ["mentor", "admin"]}):
        rules.check_home_class_authority(who, "portal", "h4")
        with pytest.raises(DomainError) as exc:
            rules.check_home_class_authority(who, "desktop", "h4")
        assert (exc.value.code, exc.value.status, exc.value.field) == (
            "home_class_desktop_led", 409, "home_class")
        assert "afdeling h4" in exc.value.message


def test_department_changes():
    current = {"code": "h4", "home_class_authority": "portal", "year_of_education": 4,
               "education": "havo"}
    assert rules.check_department_changes(current, {"home_class_authority": "Desktop",
                                                    "code": "h4"}) == {
        "home_class_authority": "desktop"}
    assert rules.check_department_changes(current, {"education": "havo"}) == {}
    with pytest.raises(DomainError) as exc:
        rules.check_department_changes(current, {"home_class_authority": "beide",
                                                 "code": "h5", "colour": 1})
    assert sorted(e["code"] for e in exc.value.errors) == [
        "field_immutable", "field_unknown", "home_class_authority_invalid"]


def test_leave_date_and_status():
    today = dt.date(2026, 11, 28)
    errors = []
    assert rules.clean_leave_date(None, errors, today) is None
    assert rules.clean_leave_date("2026-12-15", errors, today) == dt.date(2026, 12, 15)
    assert rules.clean_leave_date("2025-07-31", errors, today) == dt.date(2025, 7, 31)
    assert errors == []
    for value, code in (("2024-11-27", "leave_date_too_early"),
                        ("2027-11-30", "leave_date_too_late"), ("31-02-2026", "date_invalid")):
        errors = []
        assert rules.clean_leave_date(value, errors, today) is None
        assert [(e["code"], e["field"]) for e in errors] == [(code, "date")]
    assert rules.leave_status(None, None) == "active"
    assert rules.leave_status(today, None) == "leaving"
    assert rules.leave_status(today, dt.datetime(2026, 11, 28, 9)) == "left"
    assert rules.check_left("false") is False and rules.check_left(None) is None
    with pytest.raises(DomainError) as exc:
        rules.check_left("soms")
    assert exc.value.code == "left_invalid"


def test_package():
    assert rules.check_package(["ne", " en", "ne"], ["lo"]) == (["ne", "en"], ["lo"])
    assert rules.check_package(None, None) == ([], [])
    with pytest.raises(DomainError) as exc:
        rules.check_package("ne,en", [])
    assert (exc.value.code, exc.value.field) == ("codes_invalid", "subjects")


def test_group():
    assert rules.check_group({"code": "h4.wi1", "kind": "cluster", "subject": "wi"}) == {
        "code": "h4.wi1", "kind": "cluster", "department": None, "subject": "wi"}
    with pytest.raises(DomainError) as exc:
        rules.check_group({"code": "h4a", "kind": "home_class"})
    assert (exc.value.code, exc.value.field) == ("required", "department")
    with pytest.raises(DomainError) as exc:
        rules.check_group({"code": "x", "kind": "klas", "department": "h4"})
    assert exc.value.code == "group_kind_invalid"
    numbers, errors = rules.clean_student_numbers(["1", "1", "x2", 3])
    assert numbers == ["1", "3"]
    assert [(e["code"], e["row"]) for e in errors] == [("student_number_not_digits", 3)]


def test_page_args_and_filters():
    assert rules.page_args(None, None) == (1, 50)
    assert rules.page_args("0", "1000") == (1, 500)
    with pytest.raises(DomainError):
        rules.page_args("een", 10)
    assert rules.check_registered("true") is True
    with pytest.raises(DomainError) as exc:
        rules.check_registered("misschien")
    assert exc.value.code == "registered_invalid"
    with pytest.raises(DomainError) as exc:
        rules.check_list_filters(type="leerling")
    assert exc.value.code == "student_type_invalid"


def test_rows_error_status():
    err = rules.rows_error([{"code": "student_exists", "message": "m", "row": 2},
                            {"code": "bsn_invalid", "message": "m", "row": 1, "field": "bsn"}])
    assert (err.status, err.code, err.field) == (422, "bsn_invalid", "bsn")
    assert [e["row"] for e in err.errors] == [1, 2]
    err = rules.rows_error([{"code": "student_exists", "message": "bestaat", "row": 5}])
    assert (err.status, err.message) == (409, "bestaat")


def test_short_numbers_are_no_bsn():
    # python-stdnum pads short numbers with zeros; "12" would pass as 000000012
    for short in ("12", "0012", "1234567"):
        assert rules.bsn_or_none(short) is None
    assert rules.bsn_or_none("100 000 009") == BSN
    assert rules.bsn_or_none(10000008.0) == "010000008"


# --- several participations of one student in one project ---------------------------

def test_one_participation_needs_no_forecast():
    assert rules.forecast_errors("1001", []) == []
    assert rules.forecast_errors("1001", [{"department": "h4", "forecast": None}]) == []


def test_several_participations_need_a_forecast_each():
    errors = rules.forecast_errors("1001", [{"department": "h4", "forecast": 60},
                                            {"department": "v4", "forecast": None},
                                            {"department": "m4", "forecast": None}])
    assert [(e["code"], e["field"], e["department"]) for e in errors] == [
        ("forecast_required", "forecast", "v4"), ("forecast_required", "forecast", "m4")]
    assert "afdeling v4" in errors[0]["message"] and "h4, m4, v4" in errors[0]["message"]
    assert "Prognose" in errors[0]["message"]      # the field, in Dutch


def test_forecasts_together_at_most_100():
    ok = [{"department": "h4", "forecast": 60}, {"department": "v4", "forecast": 40}]
    assert rules.forecast_errors("1001", ok) == []
    assert rules.forecast_errors("1001", [{"department": "h4", "forecast": 0},
                                          {"department": "v4", "forecast": 0}]) == []
    (error,) = rules.forecast_errors("1001", [{"department": "v4", "forecast": 50},
                                              {"department": "h4", "forecast": 51}])
    assert (error["code"], error["field"], error["department"]) == (
        "forecast_total_exceeded", "forecast", None)
    assert "101%" in error["message"] and "h4 51%, v4 50%" in error["message"]
    assert "100%" in error["message"]


def test_check_student_participations():
    assert rules.duplicate_department([{"department": "h4"}, {"department": "v4"}]) is None
    assert rules.duplicate_department([{"department": "h4"}, {"department": "v4"},
                                       {"department": "h4"}]) == "h4"
    with pytest.raises(DomainError) as exc:
        rules.check_student_participations("1001", [{"department": "h4", "forecast": 60},
                                                    {"department": "h4", "forecast": 40}])
    assert (exc.value.code, exc.value.status, exc.value.field) == (
        "participation_exists", 409, "department")
    assert "Leerling 1001" in exc.value.message and "afdeling h4" in exc.value.message
    with pytest.raises(DomainError) as exc:
        rules.check_student_participations("1001", [{"department": "h4", "forecast": 70},
                                                    {"department": "v4", "forecast": 40}])
    assert (exc.value.code, exc.value.status) == ("forecast_total_exceeded", 422)
    rules.check_student_participations("1001", [{"department": "h4", "forecast": None}])
