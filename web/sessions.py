"""Server-side sessions in a directory every web replica can read.

The browser holds only an opaque cookie `<kind>.<id>.<signature>`: kind `a`
for a visitor who is not logged in (nothing is stored for them), `s` for a
session. The session itself (the gateway's access token, who the person is,
one-time messages) is a JSON file named after a hash of the id, written
atomically with mode 0600 in a directory of mode 0700; a copy of that
directory's listing does not give anyone a cookie. Several web processes
share it through the data dir (a shared volume in compose, the
ReadWriteMany claim in Kubernetes); there is no database.

CSRF tokens are derived from the cookie's id with the secret key (HMAC), so
they need no storage and every replica checks them alike.
"""
import hashlib
import hmac
import json
import os
import secrets
import time
import uuid
from pathlib import Path

ANONYMOUS, SESSION = "a", "s"
SWEEP_EVERY = 200  # saves between two sweeps of expired files


class Signer:
    def __init__(self, secret_key):
        self.key = hashlib.sha256(("leerlingbus-web|" + secret_key).encode()).digest()

    def sign(self, text):
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()[:43]

    def cookie(self, kind, sid):
        return f"{kind}.{sid}.{self.sign(kind + '.' + sid)}"

    def parse(self, value):
        """(kind, id) of a cookie with a valid signature, else None."""
        try:
            kind, sid, sig = (value or "").split(".")
        except ValueError:
            return None
        if kind not in (ANONYMOUS, SESSION) or not sid or len(sid) > 64:
            return None
        if not hmac.compare_digest(sig, self.sign(kind + "." + sid)):
            return None
        return kind, sid

    def csrf_token(self, sid):
        return self.sign("csrf|" + sid)

    def check_csrf(self, sid, token):
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token(sid))


def new_id():
    return secrets.token_urlsafe(32)


class FileSessionStore:
    def __init__(self, directory):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            os.chmod(self.dir, 0o700)
        except OSError:  # pragma: no cover - a volume we do not own
            pass
        self._saves = 0

    def _path(self, sid):
        return self.dir / hashlib.sha256(sid.encode()).hexdigest()

    def load(self, sid):
        """The session's data, or None when there is none or it expired."""
        try:
            data = json.loads(self._path(sid).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if data.get("expires_at", 0) <= time.time():
            self.delete(sid)
            return None
        return data

    def save(self, sid, data):
        path = self._path(sid)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False)
        os.replace(tmp, path)
        self._saves += 1
        if self._saves % SWEEP_EVERY == 0:
            self.sweep()

    def delete(self, sid):
        try:
            self._path(sid).unlink()
        except FileNotFoundError:
            pass

    def sweep(self, now=None):
        """Remove expired sessions (and temporary files left by a crash)."""
        now = now or time.time()
        removed = 0
        for path in self.dir.iterdir():
            try:
                if path.name.startswith("."):
                    if path.stat().st_mtime < now - 3600:
                        path.unlink()
                    continue
                data = json.loads(path.read_text(encoding="utf-8"))
                if data.get("expires_at", 0) <= now:
                    path.unlink()
                    removed += 1
            except (OSError, ValueError):
                continue
        return removed
