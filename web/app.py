"""The web process: a werkzeug WSGI app rendering Jinja2 pages.

Over 400 lines: the request pipeline (session, CSRF, roles, headers, refusals)
is one flow and reads best in one place.

One place decides for every request: the session (web/sessions.py), the CSRF
check of every POST, the role a page needs, the security headers, and what an
API refusal becomes (a 401 sends the person to the login page, keeping where
they were going). The pages themselves (web/pages/) are plain functions that
call the gateway and render a template.
"""
import json
import logging
import mimetypes
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from werkzeug.exceptions import HTTPException, NotFound, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect as _redirect
from werkzeug.wrappers import Request, Response

from services.common.logredact import escape_controls

from . import filters
from .client import ApiError, Gateway, Unauthorized
from .sessions import ANONYMOUS, SESSION, FileSessionStore, Signer, new_id

log = logging.getLogger("web")
access_log = logging.getLogger("web.access")

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
COOKIE = "lb_session"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
       "object-src 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

ROLE_LABELS = {"helpdesk": "Helpdesk", "admin": "Beheerder", "scheduler": "Roostermaker",
               "mentor": "Mentor", "student": "Leerling"}

# What people see of each role: (path, label, roles).
NAVIGATION = [
    ("/scholen", "Scholen", ("helpdesk",)),
    ("/beoordelen", "Beoordelen", ("helpdesk",)),
    ("/leerlinglijst", "Leerlinglijst opsturen", ("admin",)),
    ("/uploads", "Mijn lijsten", ("admin",)),
    ("/leerlingen", "Leerlingen", ("admin", "mentor")),
    ("/gebruikers", "Gebruikers", ("admin",)),
    ("/importeren", "Importeren", ("admin",)),
    ("/projecten", "Projecten", ("admin",)),
    ("/oso", "OSO", ("admin",)),
    ("/portalconnector", "Portalconnector", ("scheduler",)),
    ("/mentor", "Mijn leerlingen", ("mentor",)),
]

_LONG_NUMBER = re.compile(r"\d{8,}")


def loggable_path(path):
    """Paths may carry a BSN-like number; never log one (query strings never).
    Control characters (a decoded %0A) are escaped: one request, one line."""
    return escape_controls(_LONG_NUMBER.sub(lambda m: "*" * len(m.group()), path))


@dataclass(eq=False)
class PageRoute:
    method: str
    path: str
    handler: object
    roles: tuple = ()          # empty: anyone logged in
    login: bool = True         # False: public page


PAGES: list[PageRoute] = []


def page(method, path, roles=(), login=True):
    def register(fn):
        PAGES.append(PageRoute(method, path, fn, tuple(roles), login))
        return fn
    return register


class Redirect(Exception):
    def __init__(self, location):
        self.location = location


class PageError(Exception):
    """A page that cannot be shown: rendered as error.html with its status."""

    def __init__(self, status, title, message):
        self.status, self.title, self.message = status, title, message


def local_path(target, default="/"):
    """Only paths on this site may be a redirect target (no //host, no scheme)."""
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//") \
            or "\\" in target or any(ord(c) < 32 for c in target):
        return default
    return target


class Ctx:
    """What a page handler gets: the request, the session and the gateway."""

    def __init__(self, app, request, route):
        self.app = app
        self.request = request
        self.route = route
        self.kind = ANONYMOUS
        self.sid = None
        self.session = None
        self.new_cookie = False
        self.dirty = False
        self.api_timing = []

    # -- the person ---------------------------------------------------------------
    @property
    def logged_in(self):
        return self.session is not None

    @property
    def roles(self):
        return tuple((self.session or {}).get("roles") or ())

    def has_role(self, *roles):
        return bool(set(self.roles) & set(roles))

    @property
    def institution(self):
        return (self.session or {}).get("institution") or {}

    @property
    def csrf_token(self):
        return self.app.signer.csrf_token(self.sid)

    # -- the gateway with the session's token --------------------------------------
    def api(self, method, path, **kwargs):
        token = (self.session or {}).get("token")
        return self.app.gateway.request(method, path, token=token, timing=self.api_timing,
                                        **kwargs)

    def get(self, path, **kw):
        return self.api("GET", path, **kw)

    def post(self, path, **kw):
        return self.api("POST", path, **kw)

    def delete(self, path, **kw):
        return self.api("DELETE", path, **kw)

    def put(self, path, **kw):
        return self.api("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.api("PATCH", path, **kw)

    # -- one-time messages -------------------------------------------------------------
    def flash(self, message, kind="success"):
        if self.session is not None:
            self.session.setdefault("flash", []).append({"message": message, "kind": kind})
            self.dirty = True

    def take_flashes(self):
        if not self.session or not self.session.get("flash"):
            return []
        messages = self.session.pop("flash")
        self.dirty = True
        return messages

    # -- answers -----------------------------------------------------------------------
    def render(self, template, status=200, **values):
        return self.app.render(self, template, status=status, **values)

    def redirect(self, location):
        return _redirect(location, code=303)

    def query(self, name, default=""):
        return (self.request.args.get(name) or default).strip()

    def int_query(self, name, default=1):
        try:
            return max(1, int(self.request.args.get(name) or default))
        except ValueError:
            return default


class WebApp:
    def __init__(self, settings):
        self.settings = settings
        self.signer = Signer(settings.secret_key)
        self.sessions = FileSessionStore(settings.session_dir)
        self.gateway = Gateway(settings.gateway_url, settings.api_timeout)
        self.env = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                               autoescape=select_autoescape(default=True, default_for_string=True),
                               trim_blocks=True, lstrip_blocks=True)
        filters.install(self.env)
        self.static_version = self._static_version()
        from . import pages  # noqa: F401  (registers every page)
        self.url_map = Map([Rule(p.path, endpoint=p, methods=[p.method]) for p in PAGES]
                           + [Rule("/static/<path:name>", endpoint="static", methods=["GET"])],
                           strict_slashes=False)

    def _static_version(self):
        stamp = max((p.stat().st_mtime for p in STATIC.iterdir()), default=0)
        return str(int(stamp))

    # -- WSGI -------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        started = time.perf_counter()
        request = Request(environ)
        request.max_content_length = self.settings.max_upload_bytes + 1024 * 1024
        request.max_form_memory_size = 1024 * 1024
        ctx = None
        try:
            adapter = self.url_map.bind_to_environ(environ)
            endpoint, args = adapter.match()
            if endpoint == "static":
                response = self.static(args["name"])
            else:
                ctx = Ctx(self, request, endpoint)
                response = self.dispatch(ctx, args)
        except HTTPException as exc:
            ctx = ctx or Ctx(self, request, None)
            self.load_session(ctx)
            response = self.error_page(ctx, exc.code or 500)
        except Exception:  # a bug: logged, and a page that says so without details
            log.exception("%s %s failed", request.method, loggable_path(request.path))
            ctx = ctx or Ctx(self, request, None)
            try:
                self.load_session(ctx)
                response = self.error_page(ctx, 500)
            except Exception:  # noqa: BLE001 - even the error page failed
                response = Response("Er ging iets mis.", status=500,
                                    content_type="text/plain; charset=utf-8")
        self.finish(ctx, request, response, started)
        access_log.info("%s %s %s %.1fms", request.method, loggable_path(request.path),
                        response.status_code, (time.perf_counter() - started) * 1000)
        return response(environ, start_response)

    def dispatch(self, ctx, args):
        self.load_session(ctx)
        route = ctx.route
        try:
            if route.login and not ctx.logged_in:
                return self.to_login(ctx, expired=ctx.kind == SESSION)
            if route.roles and not ctx.has_role(*route.roles):
                raise PageError(403, "Geen toegang",
                                "Deze pagina is niet voor uw rol. Kies een onderdeel in het menu.")
            if ctx.request.method == "POST":
                try:
                    token = ctx.request.form.get("csrf_token")
                except RequestEntityTooLarge:
                    mb = self.settings.max_upload_bytes // (1024 * 1024)
                    raise PageError(413, "Bestand te groot",
                                    f"Het bestand is te groot (maximaal {mb} MB).") from None
                if not self.signer.check_csrf(ctx.sid, token):
                    raise PageError(403, "Formulier verlopen",
                                    "Dit formulier is verlopen of niet van deze site. Open de "
                                    "pagina opnieuw en probeer het nog eens.")
            return route.handler(ctx, **args)
        except Redirect as exc:
            return ctx.redirect(exc.location)
        except Unauthorized:
            self.end_session(ctx)
            return self.to_login(ctx, expired=True)
        except PageError as exc:
            return ctx.render("error.html", status=exc.status, title=exc.title,
                              message=exc.message)
        except ApiError as exc:
            return self.api_error_page(ctx, exc)

    def api_error_page(self, ctx, exc):
        if exc.status == 404:
            return self.error_page(ctx, 404)
        if exc.status == 403:
            return ctx.render("error.html", status=403, title="Geen toegang",
                              message=exc.detail or "U heeft geen toegang tot deze pagina.")
        if exc.status >= 500:
            return ctx.render("error.html", status=503, title="Niet bereikbaar",
                              message=exc.detail or "Leerlingbus is op dit moment niet "
                              "bereikbaar. Probeer het zo opnieuw.")
        return ctx.render("error.html", status=exc.status, title="Dat lukte niet",
                          message=exc.detail or "Er ging iets mis.")

    def error_page(self, ctx, status):
        titles = {404: ("Niet gevonden", "Deze pagina bestaat niet, of u heeft er geen toegang "
                        "toe."),
                  405: ("Niet toegestaan", "Deze pagina kan zo niet worden geopend."),
                  413: ("Te groot", "Wat u stuurde is te groot.")}
        title, message = titles.get(status, ("Er ging iets mis", "Probeer het opnieuw."))
        return ctx.render("error.html", status=status, title=title, message=message)

    def to_login(self, ctx, expired=False):
        if expired:
            self.end_session(ctx)
        target = ctx.request.full_path.rstrip("?") if ctx.request.method == "GET" \
            else ctx.request.path
        params = {"volgende": target}
        if expired:
            params["verlopen"] = "1"
        return ctx.redirect("/inloggen?" + urlencode(params))

    # -- sessions -------------------------------------------------------------------------
    def load_session(self, ctx):
        if ctx.sid is not None:
            return
        parsed = self.signer.parse(ctx.request.cookies.get(COOKIE))
        if parsed is None:
            ctx.kind, ctx.sid, ctx.new_cookie = ANONYMOUS, new_id(), True
            return
        ctx.kind, ctx.sid = parsed
        if ctx.kind == SESSION:
            ctx.session = self.sessions.load(ctx.sid)

    def start_session(self, ctx, data):
        """A new id for a new session (never the one from before login)."""
        if ctx.sid and ctx.kind == SESSION:
            self.sessions.delete(ctx.sid)
        ctx.kind, ctx.sid, ctx.session = SESSION, new_id(), data
        ctx.new_cookie = ctx.dirty = True

    def end_session(self, ctx):
        if ctx.sid and ctx.kind == SESSION:
            self.sessions.delete(ctx.sid)
        ctx.kind, ctx.sid, ctx.session = ANONYMOUS, new_id(), None
        ctx.new_cookie, ctx.dirty = True, False

    def secure(self, request):
        if self.settings.secure_cookies is not None:
            return self.settings.secure_cookies
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        return request.scheme == "https" or proto == "https"

    def finish(self, ctx, request, response, started):
        if ctx is not None:
            if ctx.session is not None and ctx.dirty:
                self.sessions.save(ctx.sid, ctx.session)
            if ctx.new_cookie and ctx.sid:
                response.set_cookie(COOKIE, self.signer.cookie(ctx.kind, ctx.sid), path="/",
                                    httponly=True, samesite="Lax", secure=self.secure(request))
            api = sum(ctx.api_timing) * 1000
            total = (time.perf_counter() - started) * 1000
            response.headers["Server-Timing"] = \
                f"app;dur={total:.1f}, api;dur={api:.1f};desc=\"gateway\""
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        if not request.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")

    # -- rendering ------------------------------------------------------------------------
    def render(self, ctx, template, status=200, **values):
        nav = [(path, label) for path, label, roles in NAVIGATION if ctx.has_role(*roles)]
        session = ctx.session or {}
        values.setdefault("title", "")
        html = self.env.get_template(template).render(
            ctx=ctx, session=session, user=session.get("user") or {},
            institution=ctx.institution, nav=nav, path=ctx.request.path,
            role_label=", ".join(ROLE_LABELS.get(r, r) for r in ctx.roles),
            flashes=ctx.take_flashes(), csrf_token=ctx.csrf_token if ctx.sid else "",
            static_version=self.static_version, **values)
        return Response(html, status=status, content_type="text/html; charset=utf-8")

    def static(self, name):
        path = (STATIC / name).resolve()
        if STATIC not in path.parents or not path.is_file():
            raise NotFound()
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if mime.startswith("text/") or mime in ("application/javascript",):
            mime += "; charset=utf-8"
        response = Response(path.read_bytes(), content_type=mime)
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response


def json_response(data, status=200):
    return Response(json.dumps(data, ensure_ascii=False), status=status,
                    content_type="application/json; charset=utf-8")


def file_response(api_response, fallback_name):
    """An xlsx (or other file) from the gateway, passed on as a download."""
    disposition = api_response.headers.get("Content-Disposition") or \
        f'attachment; filename="{quote(fallback_name)}"'
    return Response(api_response.content,
                    content_type=api_response.headers.get("Content-Type",
                                                          "application/octet-stream"),
                    headers={"Content-Disposition": disposition})


def create_app(settings=None):
    from .settings import WebSettings
    return WebApp(settings or WebSettings.from_env())
