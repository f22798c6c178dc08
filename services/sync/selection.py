"""Which differences a download or upload selection takes."""
from services.common.errors import DomainError, error_item

from . import compare, rules


def check_departments(P, D, departments):
    if departments is None:
        return
    known = set(P["departments"]) | {d for parts in D["participations"].values() for d in parts}
    known |= {g["department"] for g in D["groups"].values() if g["department"]}
    unknown = sorted(d for d in departments if d not in known)
    if unknown:
        text = f"Onbekende afdeling(en): {', '.join(unknown)}."
        raise DomainError("department_unknown", text, status=422, field="departments",
                          errors=[error_item("department_unknown", text, field="departments")])


def _home_class_selection(P, items, direction, departments, numbers):
    """409 when the selection names departments whose home classes move the
    other way; else the items of this direction in the selection."""
    wrong = set()
    if departments is not None:
        for code in departments:
            dept = P["departments"].get(code)
            if dept is not None and rules.home_class_direction(dept["authority"]) != direction:
                wrong.add(code)
    if numbers is not None:
        # a selected student whose home classes all move the other way; a student
        # in two departments may have one of each way: this way's move
        others, this_way = {}, set()
        for item in items:
            if item["student_number"] not in numbers:
                continue
            if item["direction"] == direction:
                this_way.add(item["student_number"])
            else:
                others.setdefault(item["student_number"], set()).add(item["department"])
        for number, codes in others.items():
            if number not in this_way:
                wrong |= codes
    if wrong:
        raise rules.wrong_direction_departments(direction, wrong)
    return [i for i in compare.select(items, departments, numbers) if i["direction"] == direction]


def selected_items(category, direction, P, D, departments, numbers):
    check_departments(P, D, departments)
    items = compare.ITEMS[category](P, D)
    if category == "home_classes":
        return _home_class_selection(P, items, direction, departments, numbers)
    return [i for i in compare.select(items, departments, numbers) if i["direction"] == direction]
