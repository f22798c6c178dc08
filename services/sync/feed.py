"""The mutation feed as pure functions: a users or students event envelope
becomes feed entries, one per student and connector category, so a desktop's
dashboard can show what changed in the portal without a full compare.

    {"category": "forecasts", "project_id": 3, "student_number": "123456",
     "department": "h4", "data": {"changes": {"forecast": [80, 100]}}}

Entries never carry a BSN or onderwijsnummer, nor passwords. Users events
have no project: their entries have project_id None and belong to every
project of the institution.
"""

# The events the sync service subscribes to: (source service, event type).
SUBSCRIPTIONS = (
    ("users", "user_created"), ("users", "users_created_batch"), ("users", "user_updated"),
    ("users", "user_archived"), ("users", "user_unarchived"),
    ("students", "student_registered"), ("students", "students_registered_batch"),
    ("students", "student_updated"), ("students", "student_left"),
    ("students", "participation_created"), ("students", "participations_created_batch"),
    ("students", "participation_changed"), ("students", "participation_removed"),
    ("students", "package_changed"), ("students", "home_class_changed"),
    ("students", "group_members_changed"),
)

PERSONAL = ("initials", "first_name", "prefix", "last_name", "gender", "street",
            "house_number", "postcode", "city", "email")
# participation fields -> category (home_class comes with home_class_changed)
PARTICIPATION_CATEGORY = {"department": "participations", "profile": "participations",
                          "programme": "participations", "learning_path": "participations",
                          "forecast": "forecasts", "lwoo": "lwoo"}
SECRET = ("bsn", "onderwijsnummer", "password")


def _number(value):
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value
    return None


def _entry(category, number, project_id=None, department=None, **data):
    return {"category": category, "student_number": number, "project_id": project_id,
            "department": department, "data": data}


def _user_entries(event_type, data):
    if event_type == "users_created_batch":
        return [_entry("students", _number(u.get("code")), action="account_created")
                for u in data.get("users") or []
                if isinstance(u, dict) and u.get("type") == "student" and _number(u.get("code"))]
    number = _number(data.get("code"))
    if number is None:
        return []
    if event_type == "user_updated":
        # user_updated does not name the user type; student numbers are digits only
        changes = {k: v for k, v in (data.get("changes") or {}).items()
                   if k in PERSONAL and isinstance(v, list) and len(v) == 2}
        return [_entry("personal_data", number, changes=changes)] if changes else []
    if data.get("type") != "student":
        return []
    action = {"user_created": "account_created", "user_archived": "archived",
              "user_unarchived": "unarchived"}[event_type]
    return [_entry("students", number, action=action)]


def _student_entries(event_type, data):
    project_id = data.get("project_id") if isinstance(data.get("project_id"), int) else None
    number = _number(data.get("student_number"))
    department = data.get("department") if isinstance(data.get("department"), str) else None
    if event_type == "students_registered_batch":
        return [_entry("students", _number(s.get("student_number")), action="registered")
                for s in data.get("students") or []
                if isinstance(s, dict) and _number(s.get("student_number"))]
    if event_type == "participations_created_batch":
        return [_entry("students", _number(p.get("student_number")), project_id,
                       p.get("department"), action="placed")
                for p in data.get("participations") or []
                if isinstance(p, dict) and _number(p.get("student_number"))]
    if event_type == "group_members_changed":
        out = []
        base = {"group": data.get("code"), "kind": data.get("kind")}
        for key, action in (("added", "joined"), ("removed", "left")):
            for value in data.get(key) or []:
                if _number(value):
                    out.append(_entry("groups", _number(value), project_id, department,
                                      action=action, **base))
        return out
    if number is None:
        return []
    if event_type == "student_registered":
        return [_entry("students", number, action="registered")]
    if event_type == "student_left":
        return [_entry("students", number, action="left", date=data.get("date"))]
    if event_type == "student_updated":
        changes = data.get("changes") or {}
        if "home_class" in changes:
            return [_entry("personal_data", number,
                           changes={"previous_home_class": changes["home_class"]})]
        return []
    if event_type == "participation_created":
        return [_entry("students", number, project_id, department, action="placed")]
    if event_type == "participation_removed":
        return [_entry("students", number, project_id, department, action="removed",
                       reason=data.get("reason"))]
    if event_type == "participation_changed":
        by_category = {}
        for field, change in (data.get("changes") or {}).items():
            category = PARTICIPATION_CATEGORY.get(field)
            if category is not None:
                by_category.setdefault(category, {})[field] = change
        return [_entry(category, number, project_id, department, changes=changes)
                for category, changes in sorted(by_category.items())]
    if event_type == "package_changed":
        return [_entry("packages", number, project_id, department,
                       subjects=data.get("subjects"), exemptions=data.get("exemptions"))]
    if event_type == "home_class_changed":
        return [_entry("home_classes", number, project_id, department,
                       changes={"home_class": [data.get("old"), data.get("new")]})]
    return []


def entries(source, event_type, data):
    """Feed entries of one event (an empty list when it matters not to the desktop)."""
    if source == "users":
        found = _user_entries(event_type, data)
    elif source == "students":
        found = _student_entries(event_type, data)
    else:
        found = []
    for entry in found:
        for key in SECRET:
            entry["data"].pop(key, None)
            if isinstance(entry["data"].get("changes"), dict):
                entry["data"]["changes"].pop(key, None)
    return found
