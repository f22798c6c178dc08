"""Gateway settings from the environment (README.md lists them)."""

import os
import secrets
from dataclasses import dataclass, field, fields
from typing import Any

from services.common import config as cfg
from services.common.signing import check_key


def _secret_key(data_dir):
    key = os.environ.get("LEERLINGBUS_SECRET_KEY")
    if key:
        return key
    path = data_dir / "secret-key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def flag(raw: str) -> bool:
    """An on/off setting: 0, false, no and off (any case) are off."""
    return raw.strip().lower() not in ("0", "false", "no", "off")


@dataclass
class Settings:
    amqp_uri: str
    secret_key: str
    port: int = 8000
    host: str = "127.0.0.1"
    token_ttl: int = 8 * 3600
    max_json_bytes: int = 1024 * 1024
    max_upload_bytes: int = 20 * 1024 * 1024
    rpc_timeout: float = 8.0
    request_deadline: float = 9.0
    principal_cache_ttl: float = 2.0
    health_timeout: float = 3.0
    # SO_REUSEPORT on the listening socket: several gateway processes share one port.
    reuse_port: bool = True
    # Route options name these (gateway/routing.py: max_body=, deadline=).
    sync_snapshot_max_bytes: int = 64 * 1024 * 1024  # a snapshot of 20,000 students
    sync_deadline: float = 120.0  # the connector's long calls: snapshot, refresh, upload
    import_deadline: float = 300.0  # a synchronous CSV import commit or undo
    services: tuple = field(default_factory=lambda: cfg.SERVICES)

    def __post_init__(self):
        # A placeholder or short key: refuse to start (InsecureKeyError).
        check_key(self.secret_key, "LEERLINGBUS_SECRET_KEY")

    @classmethod
    def from_env(cls, **overrides: Any) -> "Settings":
        values: dict[str, Any] = {
            "amqp_uri": cfg.amqp_uri(),
            "secret_key": _secret_key(cfg.data_dir()),
        }
        for f in fields(cls):
            raw = cfg.setting(ENVIRONMENT[f.name]) if f.name in ENVIRONMENT else None
            if raw is not None:
                kind: Any = type(f.default)  # bool, int, float or str as the default
                values[f.name] = flag(raw) if kind is bool else kind(raw)
        values.update(overrides)
        return cls(**values)


# The environment variables of the settings (README.md lists them).
ENVIRONMENT = {
    "port": "LEERLINGBUS_HTTP_PORT",
    "host": "LEERLINGBUS_HTTP_HOST",
    "token_ttl": "LEERLINGBUS_TOKEN_TTL",
    "max_json_bytes": "LEERLINGBUS_MAX_JSON_BYTES",
    "max_upload_bytes": "LEERLINGBUS_UPLOAD_MAX_BYTES",
    "rpc_timeout": "LEERLINGBUS_RPC_TIMEOUT",
    "reuse_port": "LEERLINGBUS_GATEWAY_REUSEPORT",
    "sync_snapshot_max_bytes": "LEERLINGBUS_SYNC_SNAPSHOT_MAX_BYTES",
    "sync_deadline": "LEERLINGBUS_SYNC_DEADLINE",
    "import_deadline": "LEERLINGBUS_IMPORT_DEADLINE",
}
