"""Importing this package registers every route (see gateway/routing.py)."""

from . import (  # noqa: F401
    auth,
    imports,
    institutions,
    ops,
    oso,
    placements,
    students,
    sync,
    uploads,
    users,
)
