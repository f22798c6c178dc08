"""What a route handler gets: the request, the caller (actor and tenancy) and
RPC bound to the request's deadline, or to the route's own long deadline."""

import enum
import time
from typing import Any, Protocol

from werkzeug.wrappers import Request

from services.common.errors import DomainError, forbidden, not_found

from .auth import has_role
from .routing import Route
from .settings import Settings


class App(Protocol):
    """What the context needs of the gateway (gateway.app.Gateway)."""

    settings: Settings
    bus: Any
    files: Any


# Ids are 64-bit integers in every database: a larger one names nothing.
MAX_ID = 2**63 - 1


class _From(enum.Enum):
    QUERY = "query"


class RequestContext:
    def __init__(self, app: App, request: Request, route: Route) -> None:
        self.app = app
        self.request = request
        self.route = route
        self.deadline = time.monotonic() + app.settings.request_deadline
        self.principal: dict[str, Any] | None = None
        self.body: Any = None
        self.query: dict[str, Any] = {}
        self.form: dict[str, Any] = {}
        self.files: dict[str, Any] = {}
        self._probed: set[str] = set()

    def setting(self, name: str) -> Any:
        """A field of gateway.settings.Settings, named by a route option."""
        return getattr(self.app.settings, name)

    # -- RPC --------------------------------------------------------------------
    def call(self, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call `service.method` within the request's deadline; on a route with
        `deadline=` within that setting instead, after a quick health probe (a
        service that is down still answers 503 within the usual deadline)."""
        if self.route.deadline is not None:
            if service not in self._probed:
                self.app.bus.call(service, "health", timeout=self.app.settings.health_timeout)
                self._probed.add(service)
            timeout = float(self.setting(self.route.deadline))
        else:
            remaining = self.deadline - time.monotonic()
            timeout = max(0.05, min(self.app.settings.rpc_timeout, remaining))
        return self.app.bus.call(service, method, *args, timeout=timeout, **kwargs)

    @property
    def options(self) -> dict[str, Any]:
        """The query's fields as keyword arguments of the service call (the
        institution it acts on is passed on its own: `institution_id()`)."""
        return {k: v for k, v in self.query.items() if k != "institution_id"}

    # -- the caller -------------------------------------------------------------
    @property
    def caller(self) -> dict[str, Any]:
        if self.principal is None:  # a route with auth=False asked for the caller
            raise RuntimeError(f"{self.route.path} has no authenticated caller")
        return self.principal

    @property
    def actor(self) -> dict[str, Any]:
        """Who acts, as the services record it in audit trails."""
        p = self.caller
        return {"user_id": p["user_id"], "code": p["code"], "roles": p["roles"]}

    @property
    def is_helpdesk(self) -> bool:
        """The platform helpdesk: acts on any institution."""
        return self.principal is not None and bool(
            has_role(self.principal, "helpdesk") and self.principal.get("is_platform")
        )

    @property
    def tenant(self) -> int:
        """The caller's own institution."""
        return int(self.caller["institution_id"])

    @property
    def scope(self) -> int | None:
        """None for the platform helpdesk (every institution), else the caller's own."""
        return None if self.is_helpdesk else self.tenant

    def has_role(self, *roles: str) -> bool:
        return bool(has_role(self.principal, *roles))

    def require(self, *roles: str) -> None:
        if self.is_helpdesk and "helpdesk" in roles:
            return
        if not has_role(self.principal, *roles):
            raise forbidden()

    def institution_id(self, requested: int | _From | None = _From.QUERY) -> int:
        """The institution this request acts on: `requested`, by default the
        query's institution_id. Helpdesk names one; anybody else acts on their
        own, and naming another one is a 404."""
        if isinstance(requested, _From):
            requested = self.query.get("institution_id")
        if self.is_helpdesk:
            if requested is None:
                raise DomainError(
                    "institution_id_required",
                    "Geef met 'institution_id' aan om welke instelling het gaat.",
                    status=422,
                    field="institution_id",
                    errors=[
                        {
                            "field": "institution_id",
                            "code": "required",
                            "message": "Het veld 'institution_id' is verplicht.",
                        }
                    ],
                )
            if not 0 < int(requested) <= MAX_ID:
                raise not_found("institution", "Niet gevonden.")
            return int(requested)
        if requested is not None and int(requested) != self.tenant:
            raise not_found("institution", "Niet gevonden.")
        return self.tenant
