"""The web process's only way into the system: the gateway's public HTTP API."""
import time

import requests


class ApiError(Exception):
    """A problem+json answer (or a gateway that cannot be reached: status 503)."""

    def __init__(self, status, problem=None):
        self.status = status
        self.problem = problem or {}
        super().__init__(f"{status} {self.code}")

    @property
    def code(self):
        return self.problem.get("code") or str(self.status)

    @property
    def detail(self):
        return self.problem.get("detail") or ""

    @property
    def errors(self):
        return list(self.problem.get("errors") or [])


class Unauthorized(ApiError):
    """401: no token, or an expired or revoked one."""


UNREACHABLE = {"code": "gateway_unreachable",
               "detail": "Leerlingbus is op dit moment niet bereikbaar. Probeer het zo opnieuw."}


class Gateway:
    def __init__(self, base_url, timeout=30.0):
        self.base_url = base_url.rstrip("/") + "/api/v1"
        self.timeout = timeout
        self.http = requests.Session()

    def request(self, method, path, token=None, raw=False, timing=None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        started = time.perf_counter()
        try:
            response = self.http.request(method, self.base_url + path, headers=headers,
                                         timeout=self.timeout, **kwargs)
        except requests.RequestException:
            raise ApiError(503, dict(UNREACHABLE)) from None
        finally:
            if timing is not None:
                timing.append(time.perf_counter() - started)
        if response.status_code >= 400:
            try:
                problem = response.json()
                if not isinstance(problem, dict):
                    problem = {}
            except ValueError:
                problem = {}
            if response.status_code == 503 and not problem.get("detail"):
                problem = dict(UNREACHABLE)
            cls = Unauthorized if response.status_code == 401 else ApiError
            raise cls(response.status_code, problem)
        if raw:
            return response
        if response.status_code == 204 or not response.content:
            return None
        return response.json()
