"""Importing this package registers every route (see gateway/routing.py)."""
from . import auth, institutions, ops, students, users  # noqa: F401
