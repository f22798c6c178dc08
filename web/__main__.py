"""python -m web — serve the web pages (LEERLINGBUS_WEB_PORT, default 8080)."""
import eventlet

eventlet.monkey_patch()

import logging  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402

import eventlet.wsgi  # noqa: E402

from services.common.logredact import escape_controls  # noqa: E402

from .app import create_app  # noqa: E402
from .settings import WebSettings  # noqa: E402

_NUMBER = re.compile(r"(?<!\d)\d{8,10}(?!\d)")


class Redact(logging.Filter):
    """No BSN-like number in any log line of the web process."""

    def filter(self, record):
        try:
            record.msg, record.args = escape_controls(_NUMBER.sub(
                lambda m: "*" * len(m.group()), record.getMessage())), ()
        except Exception:  # noqa: BLE001 - leave a broken record to the formatter
            pass
        return True


def main():
    logging.basicConfig(level=os.environ.get("LEERLINGBUS_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(Redact())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    settings = WebSettings.from_env()
    app = create_app(settings)
    sock = eventlet.listen((settings.host, settings.port))
    # answers go out at once (no Nagle wait for the client's delayed ACK)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    logging.getLogger("web").info("web pages on http://%s:%s (gateway %s)", settings.host,
                                  settings.port, settings.gateway_url)
    # log_output=False: eventlet's access log prints query strings (a search may
    # hold a BSN); the app logs method, path and status itself.
    eventlet.wsgi.server(sock, app, log_output=False, max_size=1000, socket_timeout=60,
                         debug=False)


if __name__ == "__main__":
    main()
