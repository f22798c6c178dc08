"""Unit tests of the users service's rules (rules.py, institution_rules.py,
account_rules.py, throttle.py, search.py): no broker, no database."""
import datetime as dt

import pytest

from services.common.errors import DomainError
from services.common.paging import page_args
from services.users import account_rules, institution_rules, search, throttle

T0 = dt.datetime(2025, 9, 1, 8, 0, tzinfo=dt.timezone.utc)


def codes(errors):
    return sorted((e.get("field"), e["code"]) for e in errors)


# --- institutions ---------------------------------------------------------------

def test_institution_is_normalised():
    clean = institution_rules.check_institution({"name": " Het Lyceum ", "brin": "05kq",
                                                 "school_type": "VO"})
    assert clean == {"name": "Het Lyceum", "brin": "05KQ", "branch": None, "school_type": "vo"}


def test_six_character_brin_sets_branch():
    clean = institution_rules.check_institution({"name": "X", "brin": "05kq01",
                                                 "school_type": "mbo"})
    assert (clean["brin"], clean["branch"]) == ("05KQ01", "01")


def test_four_character_brin_with_branch_becomes_six():
    clean = institution_rules.check_institution({"name": "X", "brin": "05KQ", "branch": "02",
                                                 "school_type": "vo"})
    assert (clean["brin"], clean["branch"]) == ("05KQ02", "02")


def test_branch_must_match_six_character_brin():
    with pytest.raises(DomainError) as exc:
        institution_rules.check_institution({"name": "X", "brin": "05KQ01", "branch": "03",
                                             "school_type": "vo"})
    assert exc.value.code == "branch_invalid"


def test_institution_errors_are_collected():
    with pytest.raises(DomainError) as exc:
        institution_rules.check_institution({"name": "", "brin": "5KQ", "school_type": "havo"})
    err = exc.value
    assert err.status == 422
    assert codes(err.errors) == [("brin", "brin_invalid"), ("name", "required"),
                                 ("school_type", "school_type_invalid")]
    assert all(e["message"] for e in err.errors)


def test_institution_missing_fields_are_required():
    with pytest.raises(DomainError) as exc:
        institution_rules.check_institution({})
    assert codes(exc.value.errors) == [("brin", "required"), ("name", "required"),
                                       ("school_type", "required")]


def test_login_institution_parsing():
    assert institution_rules.parse_login_institution(" Platform ") == ("platform", None)
    assert institution_rules.parse_login_institution("05kq01") == ("brin", "05KQ01")
    assert institution_rules.parse_login_institution("nonsense") == (None, None)
    assert institution_rules.parse_login_institution(None) == (None, None)


# --- users ------------------------------------------------------------------------

def person(**kw):
    data = {"code": "12345", "first_name": "Sanne", "last_name": "Jong", "prefix": "de"}
    data.update(kw)
    return data


def test_new_student_defaults():
    clean, errors = account_rules.check_new_user(person(is_student=True, postcode="1234ab",
                                                        email=" Sanne@Example.NL ", gender="v"))
    assert errors == []
    assert clean["type"] == "student"
    assert clean["roles"] == ["student"]
    assert clean["postcode"] == "1234 AB"
    assert clean["email"] == "Sanne@example.nl"
    assert clean["gender"] == "V"
    assert clean["password"] is None


def test_student_code_must_be_digits():
    _clean, errors = account_rules.check_new_user(person(code="ab12", is_student=True))
    assert errors == [{"code": "student_number_not_digits",
                       "message": "De code van een leerling mag alleen cijfers bevatten.",
                       "field": "code"}]


def test_excel_float_code_becomes_digits():
    clean, errors = account_rules.check_new_user(person(code=20355889.0, is_student=True))
    assert errors == []
    assert clean["code"] == "20355889"


def test_employee_code_may_have_letters_and_default_roles_are_empty():
    clean, errors = account_rules.check_new_user(person(code="jdevries", is_student=False))
    assert errors == []
    assert (clean["type"], clean["roles"]) == ("employee", [])


def test_every_field_error_is_reported():
    _clean, errors = account_rules.check_new_user({
        "code": "", "first_name": " ", "postcode": "12345", "email": "nope",
        "gender": "Q", "roles": ["admin", "wizard"], "password": "short", "type": "alien"})
    assert codes(errors) == sorted([
        ("code", "required"), ("type", "user_type_invalid"), ("first_name", "required"),
        ("last_name", "required"), ("postcode", "postcode_invalid"),
        ("email", "email_invalid"), ("gender", "gender_invalid"), ("roles", "role_invalid"),
        ("password", "password_too_short"),
    ])


def test_password_length_boundary():
    assert account_rules.check_new_user(person(password="x" * 10))[1] == []
    assert codes(account_rules.check_new_user(person(password="x" * 9))[1]) == [
        ("password", "password_too_short")]


@pytest.mark.parametrize("roles,user_type,is_platform,ok", [
    (["admin", "mentor"], "employee", False, True),
    (["helpdesk"], "employee", False, False),
    (["helpdesk"], "employee", True, True),
    (["admin"], "student", False, False),
    (["student"], "employee", False, False),
    ("admin", "employee", False, False),
    (["Scheduler", "scheduler"], "employee", False, True),
])
def test_role_rules(roles, user_type, is_platform, ok):
    errors = []
    result = account_rules.check_roles(roles, user_type, is_platform, errors)
    assert (errors == []) is ok
    assert (result is not None) is ok
    if ok:
        assert result == sorted(set(r.lower() for r in roles))


def test_type_and_is_student_must_agree():
    _clean, errors = account_rules.check_new_user(person(type="employee", is_student=True))
    assert codes(errors) == [("type", "user_type_invalid")]
    # is_student false is what a form sends by default: an explicit type wins
    clean, errors = account_rules.check_new_user(person(type="student", is_student=False))
    assert errors == [] and clean["type"] == "student"


def test_guardian_type():
    clean, errors = account_rules.check_new_user(person(code="ouder1", type="guardian"))
    assert errors == [] and clean["type"] == "guardian"


def test_too_long_and_non_text_values():
    _clean, errors = account_rules.check_new_user(person(city="x" * 101, street=["a"]))
    assert codes(errors) == [("city", "too_long"), ("street", "value_invalid")]


# --- changes --------------------------------------------------------------------------

CURRENT = {"code": "12345", "type": "student", "roles": ["student"], "initials": None,
           "first_name": "Sanne", "prefix": "de", "last_name": "Jong", "gender": None,
           "street": None, "house_number": None, "postcode": None, "city": None,
           "email": None}


def test_changes_report_only_differences():
    updates, password, errors = account_rules.check_changes(
        CURRENT, {"first_name": "Sanne", "city": "Utrecht", "postcode": "3511ab"})
    assert errors == [] and password is None
    assert updates == {"city": "Utrecht", "postcode": "3511 AB"}


def test_code_is_immutable_but_may_be_repeated():
    assert account_rules.check_changes(CURRENT, {"code": "12345"})[2] == []
    errors = account_rules.check_changes(CURRENT, {"code": "99999"})[2]
    assert codes(errors) == [("code", "field_immutable")]


def test_unknown_field_is_rejected_read_only_fields_ignored():
    updates, _p, errors = account_rules.check_changes(CURRENT, {"shoe_size": 42, "id": 7,
                                                                "created_at": "x"})
    assert codes(errors) == [("shoe_size", "field_unknown")]
    assert updates == {}


def test_required_fields_cannot_be_cleared():
    errors = account_rules.check_changes(CURRENT, {"last_name": ""})[2]
    assert codes(errors) == [("last_name", "required")]


def test_type_change_to_student_needs_digit_code():
    current = dict(CURRENT, code="jdevries", type="employee", roles=["admin"])
    errors = account_rules.check_changes(current, {"is_student": True})[2]
    assert codes(errors) == [("code", "student_number_not_digits")]


def test_type_change_adapts_roles():
    updates, _p, errors = account_rules.check_changes(CURRENT, {"type": "employee"})
    assert errors == []
    assert updates == {"type": "employee", "roles": []}
    current = dict(CURRENT, code="77", type="employee", roles=["mentor"])
    updates, _p, errors = account_rules.check_changes(current, {"is_student": True})
    assert errors == [] and updates == {"type": "student", "roles": ["student"]}


def test_password_change_is_returned_separately():
    updates, password, errors = account_rules.check_changes(CURRENT, {"password": "correct horse"})
    assert (updates, password, errors) == ({}, "correct horse", [])


# --- throttle ------------------------------------------------------------------------------

@pytest.mark.parametrize("failures,delay", [
    (0, 0), (4, 0), (5, 1), (6, 2), (7, 4), (12, 128), (13, 256), (14, 300), (1000, 300),
])
def test_throttle_delay(failures, delay):
    assert throttle.throttle_delay(failures) == delay


def test_throttle_remaining_counts_from_last_failure():
    assert throttle.throttle_remaining(4, T0, T0) == 0
    assert throttle.throttle_remaining(6, T0, T0) == 2
    assert throttle.throttle_remaining(6, T0, T0 + dt.timedelta(seconds=1.5)) == 0.5
    assert throttle.throttle_remaining(6, T0, T0 + dt.timedelta(seconds=2)) == 0
    naive = T0.replace(tzinfo=None)  # as SQLite returns it
    assert throttle.throttle_remaining(7, naive, T0 + dt.timedelta(seconds=1)) == 3


def test_retry_after_rounds_up():
    assert throttle.retry_after(0.2) == 1
    assert throttle.retry_after(2.01) == 3
    assert throttle.retry_after(300) == 300


def test_throttle_key_is_the_same_for_spellings_of_an_account():
    assert throttle.throttle_key("05kq", " 123 ") == throttle.throttle_key("05KQ", "123")
    assert throttle.throttle_key("PLATFORM", "helpdesk") == throttle.throttle_key("platform",
                                                                                  "helpdesk")
    assert throttle.throttle_key("05KQ", "123") != throttle.throttle_key("05KQ", "124")
    assert len(throttle.throttle_key("x" * 500, "y" * 500)) <= 120


# --- lists --------------------------------------------------------------------------------

def test_page_args():
    assert page_args(None, None) == (1, 50)
    assert page_args("2", 1000) == (2, 500)
    assert page_args(0, 0) == (1, 1)
    with pytest.raises(DomainError) as exc:
        page_args("two", 10)
    assert exc.value.code == "page_invalid"


def test_filter():
    assert account_rules.check_filter(None) == "all"
    with pytest.raises(DomainError) as exc:
        account_rules.check_filter("teachers")
    assert exc.value.code == "filter_invalid"


# --- search folding -------------------------------------------------------------------

@pytest.mark.parametrize("value,folded", [
    ("Özil", "ozil"), ("ÖZIL", "ozil"), ("ozil", "ozil"),
    ("Çelik", "celik"), ("Daniëlle", "danielle"), ("  Jan   de  Vries ", "jan de vries"),
    ("Straße", "strasse"), ("STRASSE", "strasse"), ("ẞ", "ss"),       # ß folds to ss
    ("ﬁnn", "finn"), ("Ĳsselmeer", "ijsselmeer"), ("œuvre", "oeuvre"),  # ligatures
    ("Æsa", "aesa"),
    ("İlker", "ilker"), ("Yıldız", "yildiz"), ("YILDIZ", "yildiz"),   # Turkish i: plain i
    ("Øystein", "oystein"), ("Søren", "soren"), ("Łukasz", "lukasz"),
    ("Ｆｕｌｌ", "full"), ("", ""), (None, ""),
])
def test_search_key_folds_case_and_accents(value, folded):
    assert search.search_key(value) == folded


def test_search_text_holds_full_names_email_and_code():
    text = search.search_text({"first_name": "Mesut", "prefix": "van", "last_name": "Özil",
                               "email": "M.Ozil@School.nl", "code": "1001"})
    assert text.split(search.SEARCH_SEPARATOR) == [
        "mesut van ozil", "mesut ozil", "m.ozil@school.nl", "1001"]
    assert search.search_text({"first_name": "A", "last_name": "B", "code": "x"}) \
        == search.SEARCH_SEPARATOR.join(["a b", "a b", "", "x"])


def test_like_pattern_folds_and_escapes():
    assert search.like_pattern("ÖZIL") == "%ozil%"
    assert search.like_pattern("50%_a\\b") == "%50\\%\\_a\\\\b%"
