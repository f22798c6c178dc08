"""python -m gateway — serve the HTTP API (LEERLINGBUS_HTTP_PORT, default 8000)."""

import eventlet

eventlet.monkey_patch()

import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from services.common.logredact import install as install_redaction  # noqa: E402

from .server import serve  # noqa: E402


def main():
    logging.basicConfig(
        level=os.environ.get("LEERLINGBUS_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    install_redaction()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    serve()


if __name__ == "__main__":
    main()
