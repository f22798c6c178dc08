"""Configuration from the environment (documented in README.md).

A nameko config dict may override every key (tests pass their own database
URLs and AMQP URI that way); otherwise the environment decides, then defaults.
"""

import os
from pathlib import Path

DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"
SERVICES = ("users", "students", "uploads", "sync", "oso")


def _lookup(key, config=None, default=None):
    if config is not None and config.get(key):
        return config[key]
    value = os.environ.get(key)
    return value if value else default


def data_dir(config=None) -> Path:
    path = Path(_lookup("LEERLINGBUS_DATA_DIR", config, "./var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def amqp_uri(config=None) -> str:
    return _lookup("AMQP_URI", config, DEFAULT_AMQP_URI)


def database_url(service: str, config=None) -> str:
    url = _lookup(f"{service.upper()}_DATABASE_URL", config)
    if url:
        return url
    return f"sqlite:///{data_dir(config) / (service + '.sqlite3')}"


def setting(key, config=None, default=None):
    """A service's setting: the nameko config's value, else the environment's,
    else `default` (an empty value counts as unset)."""
    return _lookup(key, config, default)


def setting_int(key, config=None, default=0) -> int:
    return int(_lookup(key, config, default))


def setting_float(key, config=None, default=0.0) -> float:
    return float(_lookup(key, config, default))
