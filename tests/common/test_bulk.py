"""COPY text of services/common/bulk.py: the column-wise conversion gives
exactly what the value-by-value one gives."""
import datetime as dt

from services.common import bulk

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def by_value(columns, rows):
    return "".join("\t".join(bulk._text_value(row[c]) for c in columns) + "\n" for row in rows)


def test_copy_text_agrees_with_the_value_by_value_conversion():
    rows = [
        {"text": "plain", "odd": "tab\there", "num": 1, "flag": True, "at": NOW,
         "day": dt.date(2010, 5, 17), "js": [], "obj": {"a": "x\ny"}, "mixed": 1,
         "blank": None, "fl": 1.5},
        {"text": None, "odd": "back\\slash\r\n", "num": None, "flag": False, "at": None,
         "day": dt.date(2010, 5, 17), "js": None, "obj": None, "mixed": "1",
         "blank": None, "fl": None},
        {"text": "ëé ünicode", "odd": None, "num": -7, "flag": None, "at": NOW,
         "day": None, "js": [], "obj": ["s"], "mixed": True, "blank": None, "fl": -0.0},
        {"text": "", "odd": "", "num": 0, "flag": True, "at": NOW + dt.timedelta(1),
         "day": dt.date(2011, 1, 1), "js": ["h4"], "obj": {}, "mixed": None,
         "blank": None, "fl": 0.0},
    ]
    columns = list(rows[0])
    assert bulk.copy_text(columns, rows) == by_value(columns, rows)
    assert bulk.copy_text(columns, []) == ""


def test_copy_text_escapes_what_copy_would_read_as_separators():
    text = bulk.copy_text(["a", "b"], [{"a": "x\ty", "b": None}])
    assert text == "x\\ty\t\\N\n"
