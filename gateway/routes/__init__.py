"""Importing this package registers every route (see gateway/routing.py)."""

from . import auth, institutions, ops, oso, students, sync, uploads, users  # noqa: F401
