"""Settings of the web process, from the environment (README.md lists them)."""
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from services.common.signing import check_key


def _data_dir():
    path = Path(os.environ.get("LEERLINGBUS_DATA_DIR") or "./var").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _secret_key(data_dir):
    """LEERLINGBUS_WEB_SECRET_KEY, else one generated once in the data dir
    (every replica that shares the data dir agrees on it)."""
    key = os.environ.get("LEERLINGBUS_WEB_SECRET_KEY")
    if key:
        return key
    path = data_dir / "web-secret-key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def _flag(name, default=None):
    value = (os.environ.get(name) or "").strip().lower()
    if not value:
        return default
    return value in ("1", "true", "yes", "ja", "on")


@dataclass
class WebSettings:
    secret_key: str
    session_dir: Path
    gateway_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8080
    # None: Secure cookies when the request came over https (also behind a
    # proxy that says X-Forwarded-Proto: https); True/False force it.
    secure_cookies: bool | None = None
    session_ttl: int = 8 * 3600
    api_timeout: float = 30.0
    max_upload_bytes: int = 20 * 1024 * 1024

    def __post_init__(self):
        # A placeholder or short key: refuse to start (InsecureKeyError).
        check_key(self.secret_key, "LEERLINGBUS_WEB_SECRET_KEY")

    @classmethod
    def from_env(cls, **overrides):
        data_dir = _data_dir()
        values = dict(
            secret_key=_secret_key(data_dir),
            session_dir=Path(os.environ.get("LEERLINGBUS_WEB_SESSION_DIR")
                             or data_dir / "web-sessions"),
            gateway_url=(os.environ.get("LEERLINGBUS_GATEWAY_URL")
                         or "http://127.0.0.1:%s" % (os.environ.get("LEERLINGBUS_HTTP_PORT")
                                                     or "8000")).rstrip("/"),
            host=os.environ.get("LEERLINGBUS_WEB_HOST") or "127.0.0.1",
            port=int(os.environ.get("LEERLINGBUS_WEB_PORT") or 8080),
            secure_cookies=_flag("LEERLINGBUS_WEB_SECURE_COOKIES"),
            session_ttl=int(os.environ.get("LEERLINGBUS_TOKEN_TTL") or 8 * 3600),
            max_upload_bytes=int(os.environ.get("LEERLINGBUS_UPLOAD_MAX_BYTES")
                                 or 20 * 1024 * 1024),
        )
        values.update(overrides)
        return cls(**values)
