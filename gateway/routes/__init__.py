"""Importing this package registers every route (see gateway/routing.py)."""

from . import auth, institutions, ops, oso, placements, students, sync, uploads, users  # noqa: F401
