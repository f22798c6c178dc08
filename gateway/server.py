"""Running the gateway: an eventlet WSGI server around the app and one bus client.

The listening socket has SO_REUSEPORT (LEERLINGBUS_GATEWAY_REUSEPORT, default
on): several `python -m gateway` processes may listen on one port and Linux
spreads new connections over them. Off, a second process on a taken port
fails at start (address in use).
"""

import logging

import eventlet
import eventlet.wsgi

from services.common import gctune

from .app import create_app
from .bus import BusClient
from .settings import Settings

log = logging.getLogger("gateway")


def build(settings=None):
    settings = settings or Settings.from_env()
    bus = BusClient(settings.amqp_uri, settings.rpc_timeout).start()
    return create_app(settings, bus)


def listen(host, port, reuse_port=True, backlog=1024):
    """The listening socket (port 0: a free one, never shared)."""
    return eventlet.listen((host, port), backlog=backlog, reuse_port=bool(reuse_port and port))


def serve_app(app, host, port, sock=None):
    sock = sock or listen(host, port)
    # log_output=False: eventlet's access log prints query strings, which can
    # hold a BSN (student search); the app logs method, path and status itself.
    eventlet.wsgi.server(sock, app, log_output=False, max_size=1000, socket_timeout=60)


def serve(settings=None):
    settings = settings or Settings.from_env()
    app = build(settings)
    sock = listen(settings.host, settings.port, settings.reuse_port)
    gctune.settle()  # start-up's objects out of the collector's way (no 50 ms pauses)
    log.info("gateway listening on http://%s:%s", settings.host, settings.port)
    serve_app(app, settings.host, settings.port, sock)
