"""School years: '2025-2026', running 1 August to 31 July."""
import re


_SCHOOL_YEAR = re.compile(r"(\d{4})\s*[-/]\s*(\d{4})")


def parse_school_year(value):
    """'2025-2026' (also '2025/2026'), or None when it is not two consecutive years."""
    if not isinstance(value, str):
        return None
    match = _SCHOOL_YEAR.fullmatch(value.strip())
    if not match:
        return None
    first, second = int(match.group(1)), int(match.group(2))
    if second != first + 1 or not 1900 <= first <= 2999:
        return None
    return f"{first}-{second}"


def school_year_of(day):
    """The school year (1 August – 31 July) a date falls in."""
    first = day.year if day.month >= 8 else day.year - 1
    return f"{first}-{first + 1}"


def next_school_year(school_year):
    first = int(school_year[:4]) + 1
    return f"{first}-{first + 1}"
