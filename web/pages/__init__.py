"""Every page of the web process, registered with web.app.page."""
from . import auth, helpdesk, public, school  # noqa: F401
