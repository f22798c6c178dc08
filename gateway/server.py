"""Running the gateway: an eventlet WSGI server around the app and one bus client."""

import logging

import eventlet
import eventlet.wsgi

from .app import create_app
from .bus import BusClient
from .settings import Settings

log = logging.getLogger("gateway")


def build(settings=None):
    settings = settings or Settings.from_env()
    bus = BusClient(settings.amqp_uri, settings.rpc_timeout).start()
    return create_app(settings, bus)


def serve_app(app, host, port, sock=None):
    sock = sock or eventlet.listen((host, port))
    # log_output=False: eventlet's access log prints query strings, which can
    # hold a BSN (student search); the app logs method, path and status itself.
    eventlet.wsgi.server(sock, app, log_output=False, max_size=1000, socket_timeout=60)


def serve(settings=None):
    settings = settings or Settings.from_env()
    app = build(settings)
    log.info("gateway listening on http://%s:%s", settings.host, settings.port)
    serve_app(app, settings.host, settings.port)
