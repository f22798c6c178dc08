"""Gateway settings from the environment (README.md lists them)."""

import os
import secrets
from dataclasses import dataclass, field

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
    # Route options name these (gateway/routing.py: max_body=, deadline=).
    sync_snapshot_max_bytes: int = 64 * 1024 * 1024  # a snapshot of 20,000 students
    sync_deadline: float = 120.0  # the connector's long calls: snapshot, refresh, upload
    import_deadline: float = 300.0  # a synchronous CSV import commit or undo
    services: tuple = field(default_factory=lambda: cfg.SERVICES)

    def __post_init__(self):
        # A placeholder or short key: refuse to start (InsecureKeyError).
        check_key(self.secret_key, "LEERLINGBUS_SECRET_KEY")

    @classmethod
    def from_env(cls, **overrides):
        data_dir = cfg.data_dir()
        values = {
            "amqp_uri": cfg.amqp_uri(),
            "secret_key": _secret_key(data_dir),
            "port": int(os.environ.get("LEERLINGBUS_HTTP_PORT", "8000")),
            "host": os.environ.get("LEERLINGBUS_HTTP_HOST", "127.0.0.1"),
            "token_ttl": int(os.environ.get("LEERLINGBUS_TOKEN_TTL", str(8 * 3600))),
            "max_json_bytes": int(os.environ.get("LEERLINGBUS_MAX_JSON_BYTES", str(1024 * 1024))),
            "rpc_timeout": float(os.environ.get("LEERLINGBUS_RPC_TIMEOUT", "8")),
            "max_upload_bytes": int(
                os.environ.get("LEERLINGBUS_UPLOAD_MAX_BYTES", str(20 * 1024 * 1024))
            ),
            "sync_snapshot_max_bytes": int(
                os.environ.get("LEERLINGBUS_SYNC_SNAPSHOT_MAX_BYTES", str(64 * 1024 * 1024))
            ),
            "sync_deadline": float(os.environ.get("LEERLINGBUS_SYNC_DEADLINE", "120")),
            "import_deadline": float(os.environ.get("LEERLINGBUS_IMPORT_DEADLINE", "300")),
        }
        values.update(overrides)
        return cls(**values)
