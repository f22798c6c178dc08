"""The connector's pure functions: snapshot validation, the comparison per
category, downloads applied to the snapshot, upload plans, the feed mapping."""
import pytest

from services.common.durable import DurableEventHandler
from services.common.errors import DomainError
from services.sync import (apply_download, compare, diff, diff_packages, feed, plans, rules,
                           snapshot_check)


def person(first, last, **kw):
    base = {"first_name": first, "prefix": None, "last_name": last, "gender": None,
            "street": None, "house_number": None, "postcode": None, "city": None,
            "email": None, "previous_home_class": None}
    base.update(kw)
    return base


def portal_state():
    """students.project_state + users.get_users of a small project."""
    state = {
        "project": {"id": 7, "school_year": "2025-2026"},
        "departments": [
            {"id": 1, "code": "h4", "home_class_authority": "portal"},
            {"id": 2, "code": "h5", "home_class_authority": "desktop"}],
        "participations": [
            {"id": 11, "student_number": "1001", "department": "h4", "forecast": 80,
             "lwoo": False, "home_class": "h4a", "profile": "NT", "programme": None},
            {"id": 12, "student_number": "1002", "department": "h4", "forecast": 100,
             "lwoo": True, "home_class": "h4b", "profile": None, "programme": None},
            {"id": 13, "student_number": "1003", "department": "h5", "forecast": None,
             "lwoo": False, "home_class": "h5a", "profile": None, "programme": None},
            {"id": 14, "student_number": "1004", "department": "h5", "forecast": None,
             "lwoo": False, "home_class": None, "profile": None, "programme": None}],
        "packages": [
            {"participation_id": 11, "student_number": "1001", "department": "h4",
             "subjects": ["ne", "en", "wi"], "exemptions": ["lo"]},
            {"participation_id": 12, "student_number": "1002", "department": "h4",
             "subjects": ["ne"], "exemptions": []},
            {"participation_id": 13, "student_number": "1003", "department": "h5",
             "subjects": [], "exemptions": []},
            {"participation_id": 14, "student_number": "1004", "department": "h5",
             "subjects": [], "exemptions": []}],
        "groups": [
            {"id": 21, "code": "h5a", "department": "h5", "kind": "home_class", "subject": None,
             "student_numbers": ["1003"]},
            {"id": 22, "code": "h4.wi1", "department": "h4", "kind": "cluster",
             "subject": "wi", "student_numbers": ["1001"]}],
        "students": [{"student_number": n, "home_class": "3h1"}
                     for n in ("1001", "1002", "1003", "1004")],
    }
    people = [
        {"code": "1001", **person("Daan", "Berg", prefix="van de", postcode="7311 BA",
                                  email="daan@school.nl")},
        {"code": "1002", **person("Eva", "Smit")},
        {"code": "1003", **person("Finn", "Jong")},
        {"code": "1004", **person("Gijs", "Bos")},
        {"code": "2002", **person("Iris", "Oud")},
    ]
    return state, people


def desktop_doc():
    return {
        "students": [
            {"student_number": "1001", "first_name": "Daan", "prefix": "van de",
             "last_name": "Berg", "postcode": "7311ba", "email": "DAAN@school.nl",
             "previous_home_class": "3h1", "properties": {"#EMAIL": "daan@example.nl"}},
            {"student_number": "1002", "first_name": "Eva", "last_name": "Smid",
             "previous_home_class": "3h1"},
            {"student_number": "1003", "first_name": "Finn", "last_name": "Jong",
             "previous_home_class": "3h1"},
            {"student_number": "2001", "first_name": "Hugo", "last_name": "Nieuw",
             "properties": {"#EMAIL": "hugo@example.nl"}},
            {"student_number": "2002", "first_name": "Iris", "last_name": "Oud"},
        ],
        "participations": [
            {"student_number": "1001", "department": "h4", "forecast": 100, "lwoo": False,
             "home_class": "h4b", "profile": "NT", "programme": None},
            {"student_number": "1002", "department": "v4", "forecast": 100, "lwoo": None,
             "home_class": "h4b"},
            {"student_number": "1003", "department": "h5", "home_class": "h5b"},
            {"student_number": "2001", "department": "h5", "forecast": 100},
        ],
        "packages": [{"student_number": "1001", "department": "h4",
                      "subjects": ["wi", "ne", "en"], "exemptions": []}],
        "groups": [
            {"code": "h4.wi1", "department": "h4", "kind": "cluster", "subject": "wi",
             "student_numbers": ["1001", "1002"]},
            {"code": "h5b", "department": "h5", "kind": "home_class",
             "student_numbers": ["1003"]},
        ],
    }


@pytest.fixture
def sides():
    desktop = snapshot_check.check_snapshot(desktop_doc())
    state, people = portal_state()
    portal = rules.portal_view(state, people, desktop["students"], "2025-11-25T10:00:00+00:00")
    return portal, desktop


# --- the snapshot ---------------------------------------------------------------------

def test_snapshot_normalises_and_missing_or_null_is_empty():
    clean = snapshot_check.check_snapshot(desktop_doc())
    assert clean["students"]["1001"]["postcode"] == "7311 BA"
    assert clean["participations"]["1002"]["v4"]["lwoo"] is False
    # a package without department belongs to the student's only participation
    assert clean["packages"]["1001"]["h4"]["subjects"] == ["wi", "ne", "en"]
    assert clean["groups"]["h5b"]["student_numbers"] == ["1003"]
    empty = snapshot_check.check_snapshot({"students": None})
    assert empty == {"students": {}, "participations": {}, "packages": {}, "groups": {}}
    assert snapshot_check.check_snapshot(None) == empty


def test_snapshot_unknown_keys_are_named():
    with pytest.raises(DomainError) as exc:
        snapshot_check.check_snapshot({"students": [], "leerlingen": [], "extra": 1})
    assert exc.value.status == 422 and exc.value.code == "field_unknown"
    assert "extra" in exc.value.message and "leerlingen" in exc.value.message
    assert {e["field"] for e in exc.value.errors} == {"leerlingen", "extra"}
    doc = desktop_doc()
    doc["students"][0]["nickname"] = "D"
    doc["participations"][0]["grade"] = 8
    with pytest.raises(DomainError) as exc:
        snapshot_check.check_snapshot(doc)
    fields = {e["field"] for e in exc.value.errors}
    assert fields == {"students.nickname", "participations.grade"}
    assert all(e["code"] == "field_unknown" for e in exc.value.errors)


@pytest.mark.parametrize("mutate, code, field", [
    (lambda d: d["students"][0].update(student_number="12a4"), "student_number_not_digits",
     "students.student_number"),
    (lambda d: d["students"][1].update(first_name=12), "type_invalid", "students.first_name"),
    (lambda d: d["students"].append({"student_number": "1001"}), "duplicate_student",
     "students.student_number"),
    (lambda d: d["participations"][0].update(forecast=120), "forecast_invalid",
     "participations.forecast"),
    (lambda d: d["participations"][0].update(lwoo="ja"), "lwoo_invalid", "participations.lwoo"),
    (lambda d: d["participations"][0].update(department=None), "required",
     "participations.department"),
    (lambda d: d["participations"].append({"student_number": "999", "department": "h4"}),
     "student_unknown", "participations.student_number"),
    (lambda d: d["participations"].append({"student_number": "1001", "department": "h4"}),
     "duplicate_participation", "participations.department"),
    (lambda d: (d["participations"].append({"student_number": "1001", "department": "v4"}),
                d["packages"][0].update(department=None)),
     "required", "packages.department"),
    (lambda d: d["packages"].append({"student_number": "1001", "department": "h4"}),
     "duplicate_package", "packages.student_number"),
    (lambda d: d.update(groups="h4a"), "type_invalid", "groups"),
    (lambda d: d["groups"][0].update(kind="klas"), "group_kind_invalid", "groups.kind"),
    (lambda d: d["groups"][1]["student_numbers"].append("1002"), "home_class_mismatch",
     "groups.student_numbers"),
    (lambda d: d["packages"][0].update(subjects="ne"), "type_invalid", "packages.subjects"),
    (lambda d: d["groups"][0].update(student_numbers=True), "type_invalid",   # found by fuzzing
     "groups.student_numbers"),
    (lambda d: d["students"][0].update(gender="Q"), "gender_invalid", "students.gender"),
])
def test_snapshot_rejects(mutate, code, field):
    doc = desktop_doc()
    mutate(doc)
    with pytest.raises(DomainError) as exc:
        snapshot_check.check_snapshot(doc)
    assert exc.value.status == 422
    assert (code, field) in {(e["code"], e["field"]) for e in exc.value.errors}, \
        exc.value.errors


def test_snapshot_round_trip_document():
    clean = snapshot_check.check_snapshot(desktop_doc())
    again = snapshot_check.check_snapshot(snapshot_check.snapshot_document(clean))
    assert again == clean


# --- the comparison --------------------------------------------------------------------

def by_number(items):
    return {i["student_number"]: i for i in items}


def test_students_category(sides):
    portal, desktop = sides
    items = by_number(diff.students_items(portal, desktop))
    assert set(items) == {"1004", "2001", "2002"}
    assert items["1004"]["action"] == "add" and items["1004"]["direction"] == "download"
    assert items["2001"]["action"] == "create" and items["2001"]["direction"] == "upload"
    assert items["2002"]["action"] == "remove" and items["2002"]["has_account"] is True


def test_personal_data_ignores_formatting_not_content(sides):
    portal, desktop = sides
    items = by_number(diff.personal_data_items(portal, desktop))
    assert set(items) == {"1002"}  # postcode 7311ba and e-mail case are the same value
    assert items["1002"]["fields"] == {"last_name": {"P": "Smit", "D": "Smid"}}


def by_key(items):
    return {(i["student_number"], i["department"]): i for i in items}


def test_participation_categories(sides):
    portal, desktop = sides
    # per student the set of departments: 1002 is in h4 in the portal, in v4 in the desktop
    parts = by_key(diff.participations_items(portal, desktop))
    assert set(parts) == {("1002", "h4"), ("1002", "v4")}
    assert parts[("1002", "h4")]["fields"] == {"department": {"P": "h4", "D": None}}
    assert parts[("1002", "v4")]["fields"] == {"department": {"P": None, "D": "v4"}}
    assert parts[("1002", "h4")]["student_departments"] == {"P": ["h4"], "D": ["v4"]}
    # 1003: same department, profile and programme
    assert by_number(diff.forecasts_items(portal, desktop))["1001"]["fields"] == \
        {"forecast": {"P": 80, "D": 100}}
    assert set(by_number(diff.lwoo_items(portal, desktop))) == {"1002"}
    homes = by_key(diff.home_classes_items(portal, desktop))
    assert homes[("1001", "h4")]["direction"] == "download"
    assert homes[("1001", "h4")]["home_class_authority"] == "portal"
    assert homes[("1003", "h5")]["direction"] == "upload"
    assert homes[("1003", "h5")]["fields"]["home_class"] == {"P": "h5a", "D": "h5b"}
    # the desktop has no h4 participation of 1002: compared with an empty one
    assert homes[("1002", "h4")]["fields"]["home_class"] == {"P": "h4b", "D": None}
    assert homes[("1002", "h4")]["in_desktop"] is False
    assert set(homes) == {("1001", "h4"), ("1002", "h4"), ("1003", "h5")}


def test_packages_count_exemptions_apart(sides):
    portal, desktop = sides
    status = compare.status(portal, desktop)
    # 1001: same subjects in another order, exemptions differ; 1002: subjects differ
    assert status["packages"]["differences"] == 2
    assert status["packages"]["exemptions"] == 1
    items = by_number(diff_packages.packages_items(portal, desktop))
    assert "subjects" not in items["1001"]["fields"]
    assert items["1001"]["exemptions_differ"] is True


def test_groups_compare_in_scope_and_known_students(sides):
    portal, desktop = sides
    items, changed = diff.groups_details(portal, desktop)
    got = by_number(items)
    assert got["1002"]["fields"]["groups"] == {"P": [], "D": ["h4.wi1"]}
    assert got["1003"]["fields"]["groups"] == {"P": [], "D": ["h5b"]}
    codes = {g["code"]: g for g in changed}
    assert codes["h5b"]["in_portal"] is False and codes["h4.wi1"]["added"] == ["1002"]


def test_status_and_filter(sides):
    portal, desktop = sides
    status = compare.status(portal, desktop)
    assert set(status) == set(rules.CATEGORIES)
    # download: 1001 (another class), 1002 (no h4 participation in the desktop)
    assert status["home_classes"]["download"] == 2 and status["home_classes"]["upload"] == 1
    assert status["home_classes"]["differences"] == 3
    assert all(s["as_of"] == portal["as_of"] for s in status.values())
    result = compare.differences("home_classes", portal, desktop, department="h5")
    assert [i["student_number"] for i in result["items"]] == ["1003"]
    depts = {d["code"]: d for d in result["departments"]}
    assert depts["h5"]["home_class_authority"] == "desktop"
    assert depts["h5"]["direction"] == "upload" and depts["h4"]["direction"] == "download"
    assert depts["v4"]["in_portal"] is False


# --- downloads ----------------------------------------------------------------------------

@pytest.mark.parametrize("category", ["students", "personal_data", "participations", "lwoo",
                                      "forecasts", "packages"])
def test_download_makes_the_category_ok(sides, category):
    portal, desktop = sides
    items = [i for i in compare.ITEMS[category](portal, desktop) if i["direction"] == "download"]
    assert items
    changes = apply_download.apply_download(category, portal, desktop, items)
    assert len(changes) == len(items)
    remaining = [i for i in compare.ITEMS[category](portal, desktop)
                 if i["direction"] == "download"]
    assert remaining == []
    # what the connector stores is still a valid snapshot
    snapshot_check.check_snapshot(snapshot_check.snapshot_document(desktop))


def test_download_home_classes_moves_listed_groups(sides):
    portal, desktop = sides
    desktop["groups"]["h4b"] = {"department": "h4", "kind": "home_class", "subject": None,
                                "student_numbers": ["1001", "1002"]}
    desktop["groups"]["h4a"] = {"department": "h4", "kind": "home_class", "subject": None,
                                "student_numbers": []}
    items = [i for i in diff.home_classes_items(portal, desktop)
             if i["direction"] == "download"]
    changes = apply_download.apply_download("home_classes", portal, desktop, items)
    assert sorted(changes, key=lambda c: c["student_number"]) == [
        {"student_number": "1001", "department": "h4", "action": "set",
         "values": {"home_class": "h4a"}},
        {"student_number": "1002", "department": "h4", "action": "set",
         "values": {"home_class": "h4b"}}]
    assert desktop["groups"]["h4a"]["student_numbers"] == ["1001"]
    assert desktop["groups"]["h4b"]["student_numbers"] == ["1002"]
    assert desktop["participations"]["1002"]["h4"]["home_class"] == "h4b"
    snapshot_check.check_snapshot(snapshot_check.snapshot_document(desktop))


def test_download_students_add_and_remove(sides):
    portal, desktop = sides
    items = [i for i in diff.students_items(portal, desktop) if i["direction"] == "download"]
    changes = by_number(apply_download.apply_download("students", portal, desktop, items))
    assert changes["1004"]["action"] == "add"
    assert changes["1004"]["values"]["first_name"] == "Gijs"
    assert changes["1004"]["participation"] == {"department": "h5", "profile": None,
                                                "programme": None}
    assert changes["1004"]["participations"] == [changes["1004"]["participation"]]
    assert changes["2002"] == {"student_number": "2002", "department": None,
                               "action": "remove", "left_groups": []}
    assert "2002" not in desktop["students"] and "1004" in desktop["students"]


# --- upload plans ----------------------------------------------------------------------------

def test_students_rows_take_email_from_property(sides):
    portal, desktop = sides
    items = [i for i in diff.students_items(portal, desktop) if i["action"] == "create"]
    rows, skipped = plans.students_rows(portal, desktop, items)
    assert skipped == []
    assert rows[0]["student_number"] == "2001" and rows[0]["email"] == "hugo@example.nl"
    assert rows[0]["type"] == "non_transfer"
    assert [p["department"] for p in rows[0]["participations"]] == ["h5"]
    assert rows[0]["participations"][0]["forecast"] == 100
    desktop["participations"]["2001"] = {"x9": dict(desktop["participations"]["2001"]["h5"],
                                                    department="x9")}
    rows, skipped = plans.students_rows(portal, desktop, items)
    assert rows == [] and skipped[0]["code"] == "department_unknown"


def test_home_class_ops(sides):
    portal, desktop = sides
    items = [i for i in diff.home_classes_items(portal, desktop) if i["direction"] == "upload"]
    ops, singles = plans.home_class_ops(portal, items)
    by_code = {op["code"]: op for op in ops}
    assert by_code["h5b"] == {"code": "h5b", "department": "h5", "group_id": None,
                              "members": ["1003"]}
    assert by_code["h5a"]["group_id"] == 21 and by_code["h5a"]["members"] == []
    assert singles == []


def test_group_ops(sides):
    portal, desktop = sides
    ops, skipped = plans.group_ops(portal, desktop)
    by_code = {op["code"]: op for op in ops}
    assert by_code["h4.wi1"]["members"] == ["1001", "1002"] and by_code["h4.wi1"]["create"] \
        is None
    assert by_code["h5b"]["create"]["kind"] == "home_class"
    assert skipped == []
    ops, _ = plans.group_ops(portal, desktop, departments={"h4"}, student_numbers={"1001"})
    assert ops == []  # 1001 is already in h4.wi1; 1002 not selected


# --- several participations of one student (next year's forecasts) ---------------------------

def forecast_sides(desktop_parts, desktop_packages=()):
    """A portal where 3001 is 60% h4 and 40% v4, 3002 is in h5 (no package
    choices in h5), and a desktop with the given participations/packages."""
    state = {
        "project": {"id": 8, "school_year": "2026-2027"},
        "departments": [
            {"id": 1, "code": "h4", "home_class_authority": "portal"},
            {"id": 2, "code": "v4", "home_class_authority": "desktop"},
            {"id": 3, "code": "h5", "home_class_authority": "portal"}],
        "participations": [
            {"id": 31, "student_number": "3001", "department": "h4", "forecast": 60,
             "lwoo": False, "home_class": "h4a", "profile": "NT", "programme": None},
            {"id": 32, "student_number": "3001", "department": "v4", "forecast": 40,
             "lwoo": True, "home_class": "v4a", "profile": None, "programme": None},
            {"id": 33, "student_number": "3002", "department": "h5", "forecast": None,
             "lwoo": False, "home_class": None, "profile": None, "programme": None}],
        "packages": [
            {"participation_id": 31, "student_number": "3001", "department": "h4",
             "subjects": ["ne", "wi"], "exemptions": []},
            {"participation_id": 32, "student_number": "3001", "department": "v4",
             "subjects": [], "exemptions": []},
            {"participation_id": 33, "student_number": "3002", "department": "h5",
             "subjects": [], "exemptions": []}],
        "groups": [
            {"id": 41, "code": "h4a", "department": "h4", "kind": "home_class",
             "subject": None, "student_numbers": ["3001"]},
            {"id": 42, "code": "v4a", "department": "v4", "kind": "home_class",
             "subject": None, "student_numbers": ["3001"]}],
        "students": [{"student_number": "3001", "home_class": "3h1"},
                     {"student_number": "3002", "home_class": "4h1"}],
    }
    people = [{"code": "3001", **person("Sara", "Dijk")},
              {"code": "3002", **person("Tom", "Veen")}]
    doc = {"students": [{"student_number": "3001", "first_name": "Sara", "last_name": "Dijk",
                         "previous_home_class": "3h1"},
                        {"student_number": "3002", "first_name": "Tom", "last_name": "Veen",
                         "previous_home_class": "4h1"}],
           "participations": list(desktop_parts), "packages": list(desktop_packages),
           "groups": []}
    desktop = snapshot_check.check_snapshot(doc)
    portal = rules.portal_view(state, people, desktop["students"], "2025-12-01T10:00:00+00:00")
    return portal, desktop


ONLY_H4 = [{"student_number": "3001", "department": "h4", "forecast": 100, "lwoo": False,
            "home_class": "h4a", "profile": "NT"},
           {"student_number": "3002", "department": "h5"}]


def test_snapshot_takes_a_student_in_several_departments():
    doc = {"students": [{"student_number": "3001"}],
           "participations": [{"student_number": "3001", "department": "h4", "forecast": 60},
                              {"student_number": "3001", "department": "v4", "forecast": 40}],
           "packages": [{"student_number": "3001", "department": "v4", "subjects": ["ne"]}]}
    clean = snapshot_check.check_snapshot(doc)
    assert sorted(clean["participations"]["3001"]) == ["h4", "v4"]
    assert snapshot_check.snapshot_counts(clean) == {"students": 1, "participations": 2,
                                                     "packages": 1, "groups": 0}
    assert [(p["department"], p["forecast"])
            for p in snapshot_check.snapshot_document(clean)["participations"]] == [("h4", 60),
                                                                           ("v4", 40)]
    assert snapshot_check.check_snapshot(snapshot_check.snapshot_document(clean)) == clean


def test_portal_view_keeps_every_participation():
    portal, _desktop = forecast_sides(ONLY_H4)
    assert sorted(portal["participations"]["3001"]) == ["h4", "v4"]
    assert portal["participations"]["3001"]["v4"]["id"] == 32
    assert list(portal["students"]) == ["3001", "3002"]


def test_forecasts_and_participations_per_department():
    portal, desktop = forecast_sides(ONLY_H4)
    parts = by_key(diff.participations_items(portal, desktop))
    assert set(parts) == {("3001", "v4")}
    assert parts[("3001", "v4")]["fields"] == {"department": {"P": "v4", "D": None}}
    assert parts[("3001", "v4")]["student_departments"] == {"P": ["h4", "v4"], "D": ["h4"]}
    forecasts = by_key(diff.forecasts_items(portal, desktop))
    assert forecasts[("3001", "h4")]["fields"] == {"forecast": {"P": 60, "D": 100}}
    assert forecasts[("3001", "v4")]["fields"] == {"forecast": {"P": 40, "D": None}}
    status = compare.status(portal, desktop)
    assert status["forecasts"]["differences"] == 1  # one student, two departments
    assert status["participations"]["differences"] == 1
    # the department filter: v4 shows the student's v4 forecast only
    only_v4 = compare.differences("forecasts", portal, desktop, department="v4")
    assert [(i["student_number"], i["department"]) for i in only_v4["items"]] == [("3001",
                                                                                   "v4")]
    # home classes follow each department's authority
    homes = by_key(diff.home_classes_items(portal, desktop))
    assert homes[("3001", "v4")]["direction"] == "upload"
    assert ("3001", "h4") not in homes
    # a per-student item names all departments and is found under each
    personal = compare.differences("personal_data", portal,
                                   dict(desktop, students=dict(
                                       desktop["students"],
                                       **{"3001": dict(desktop["students"]["3001"],
                                                       last_name="Dyk")})), department="v4")
    assert personal["items"][0]["departments"] == ["h4", "v4"]


def test_downloads_bring_the_desktop_to_the_portal():
    portal, desktop = forecast_sides(ONLY_H4)
    for category in ("participations", "forecasts", "lwoo"):
        items = compare.ITEMS[category](portal, desktop)
        changes = apply_download.apply_download(category, portal, desktop, items)
        assert {(c["student_number"], c["department"]) for c in changes} == \
            {(i["student_number"], i["department"]) for i in items}
        assert compare.category_status(category, portal, desktop)["status"] == "ok"
    assert {d: p["forecast"] for d, p in desktop["participations"]["3001"].items()} == \
        {"h4": 60, "v4": 40}
    snapshot_check.check_snapshot(snapshot_check.snapshot_document(desktop))


def test_participations_download_removes_a_department_the_portal_lacks():
    parts = ONLY_H4 + [{"student_number": "3001", "department": "v4", "forecast": 0},
                       {"student_number": "3001", "department": "h5", "home_class": "h5x"}]
    portal, desktop = forecast_sides(parts, [
        {"student_number": "3001", "department": "h5", "subjects": ["ne"]}])
    desktop["groups"]["h5x"] = {"department": "h5", "kind": "home_class", "subject": None,
                                "student_numbers": ["3001"]}
    items = diff.participations_items(portal, desktop)
    gone = [i for i in items if i["department"] == "h5"]
    assert gone[0]["fields"] == {"department": {"P": None, "D": "h5"}}
    changes = apply_download.apply_download("participations", portal, desktop, gone)
    assert changes == [{"student_number": "3001", "department": "h5", "action": "remove",
                        "left_groups": ["h5x"]}]
    assert sorted(desktop["participations"]["3001"]) == ["h4", "v4"]
    assert "h5" not in desktop["packages"].get("3001", {})
    assert desktop["groups"]["h5x"]["student_numbers"] == []
    snapshot_check.check_snapshot(snapshot_check.snapshot_document(desktop))


def test_packages_of_a_department_without_choices_in_the_portal_stay():
    packages = [{"student_number": "3001", "department": "h4", "subjects": ["ne"]},
                {"student_number": "3002", "department": "h5", "subjects": ["ne", "en"]}]
    portal, desktop = forecast_sides(ONLY_H4, packages)
    assert diff_packages.package_departments(portal) == {"h4"}
    items = by_key(diff_packages.packages_items(portal, desktop))
    # h4: the portal chose ne+wi; h5: the portal has no choices, 3002's desktop package stays
    assert set(items) == {("3001", "h4")}
    status = compare.status(portal, desktop)["packages"]
    assert status["differences"] == 1 and status["download"] == 1
    result = compare.differences("packages", portal, desktop)
    rows = {d["code"]: d for d in result["departments"]}
    assert rows["h5"]["packages_in_portal"] is False and rows["h5"]["left_alone"] == 1
    assert "h5" in rows["h5"]["note"] and "blijven staan" in rows["h5"]["note"]
    assert rows["h4"]["packages_in_portal"] is True and "note" not in rows["h4"]
    # v4: the portal has no choices either, but nothing of the desktop's is at stake
    assert rows["v4"]["packages_in_portal"] is False and rows["v4"]["left_alone"] == 0
    assert diff_packages.packages_skipped(portal, desktop) == [
        {"department": "h5", "code": "no_packages_in_portal",
         "message": diff_packages.no_packages_note("h5"), "students": 1}]
    # selected explicitly: still skipped, and said so
    skipped = diff_packages.packages_skipped(portal, desktop, departments={"h5", "v4"})
    assert [(s["department"], s["students"]) for s in skipped] == [("h5", 1), ("v4", 0)]
    selected = compare.select(diff_packages.packages_items(portal, desktop), {"h5"})
    assert selected == []
    changes = apply_download.apply_download("packages", portal, desktop,
                                            diff_packages.packages_items(portal, desktop))
    assert changes == [{"student_number": "3001", "department": "h4", "action": "set",
                        "values": {"subjects": ["ne", "wi"], "exemptions": []}}]
    assert desktop["packages"]["3002"]["h5"]["subjects"] == ["ne", "en"]


def test_home_class_ops_per_department():
    parts = [dict(ONLY_H4[0], forecast=60),
             {"student_number": "3001", "department": "v4", "forecast": 40, "lwoo": True,
              "home_class": "v4b"}, ONLY_H4[1]]
    portal, desktop = forecast_sides(parts)
    items = [i for i in diff.home_classes_items(portal, desktop) if i["direction"] == "upload"]
    assert [(i["student_number"], i["department"]) for i in items] == [("3001", "v4")]
    ops, singles = plans.home_class_ops(portal, items)
    assert {op["code"]: op["members"] for op in ops} == {"v4a": [], "v4b": ["3001"]}
    assert all(op["department"] == "v4" for op in ops) and singles == []
    # the student's h4 home class is not part of the plan
    assert "h4a" not in {op["code"] for op in ops}


def test_students_rows_place_in_every_department():
    portal, desktop = forecast_sides(ONLY_H4)
    desktop["students"]["3003"] = dict(desktop["students"]["3002"], first_name="Nina")
    desktop["participations"]["3003"] = {
        "h4": dict(diff.EMPTY_PARTICIPATION, department="h4", forecast=50),
        "v4": dict(diff.EMPTY_PARTICIPATION, department="v4", forecast=50)}
    items = [i for i in diff.students_items(portal, desktop) if i["action"] == "create"]
    rows, skipped = plans.students_rows(portal, desktop, items)
    assert skipped == []
    assert [(p["department"], p["forecast"]) for p in rows[0]["participations"]] == [
        ("h4", 50), ("v4", 50)]


# --- the feed ----------------------------------------------------------------------------------

def envelope(event_type, data, iid=5):
    return {"event_id": "e-" + event_type, "type": event_type, "version": 1,
            "occurred_at": "2025-11-25T10:00:00+00:00", "institution_id": iid, "data": data}


def test_feed_entries():
    got = feed.entries("students", "participation_changed", {
        "project_id": 7, "student_number": "1001", "department": "h4",
        "changes": {"forecast": [80, 100], "lwoo": [False, True], "home_class": ["a", "b"]}})
    assert [(e["category"], e["data"]["changes"]) for e in got] == [
        ("forecasts", {"forecast": [80, 100]}), ("lwoo", {"lwoo": [False, True]})]
    got = feed.entries("users", "user_updated", {"code": "1001", "changes": {
        "city": ["A", "B"], "password": ["***", "***"]}})
    assert got[0]["category"] == "personal_data" and got[0]["data"]["changes"] == {
        "city": ["A", "B"]}
    got = feed.entries("students", "student_updated", {"student_number": "1001",
                                                       "changes": {"bsn": ["***", "***"]}})
    assert got == []
    got = feed.entries("students", "group_members_changed", {
        "project_id": 7, "code": "h4.wi1", "kind": "cluster", "department": "h4",
        "added": ["1002"], "removed": ["1001"]})
    assert [(e["student_number"], e["data"]["action"]) for e in got] == [
        ("1002", "joined"), ("1001", "left")]
    assert feed.entries("users", "user_created", {"code": "beheer", "type": "employee"}) == []


def test_every_subscription_has_a_durable_handler():
    from nameko.events import SERVICE_POOL, EventHandler
    from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

    from services.sync.service import SyncService
    for source, event_type in feed.SUBSCRIPTIONS:
        method = getattr(SyncService, f"on_{event_type}")
        (handler,) = [e for e in getattr(method, ENTRYPOINT_EXTENSIONS_ATTR)
                      if isinstance(e, EventHandler)]
        assert (handler.source_service, handler.event_type) == (source, event_type)
        assert isinstance(handler, DurableEventHandler) and handler.reliable_delivery
        assert handler.handler_type == SERVICE_POOL
