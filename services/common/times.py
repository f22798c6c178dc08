"""Timestamps as the services answer them: aware UTC, ISO 8601."""

import datetime as dt


def as_utc(value):
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite returns naive UTC timestamps
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def iso(value):
    """ISO 8601 of a datetime (as UTC) or a date; None stays None."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return as_utc(value).isoformat()
    return value.isoformat()
