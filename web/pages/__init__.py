"""Every page of the web process, registered with web.app.page."""
from . import (auth, connector, helpdesk, imports, mentor, oso, placements, public,  # noqa: F401
               school)
