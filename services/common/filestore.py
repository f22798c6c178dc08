"""The file store the gateway and the services share: a file is stored once and
RPC messages carry its reference, never its bytes: an upload as an `incoming/`
file that a service adopts or deletes, a download a service hands out as an
`outgoing/` file that the gateway streams and deletes.

A reference is a small dict `{"key": "incoming/3f2a…", "size": 12345,
"sha256": "…"}`. Keys are chosen by the code, never by a caller: every key is
checked against KEY_PATTERN (segments of lower-case letters, digits, ".", "_",
"-", none starting with a dot), so no key can leave the store. A reference that
arrives over RPC must name an `incoming/` key (`incoming_ref`).

LEERLINGBUS_FILESTORE chooses the store:

- `local` (default): files under LEERLINGBUS_FILESTORE_DIR (default the data
  dir), written to a temporary file and renamed; the checksum beside each file
  as `<name>.sha256`. Replicas share it when they mount the same directory.
- `s3` (filestore_s3.py): a bucket of an S3-compatible server (MinIO, AWS S3,
  …) through boto3; the checksum in the object's metadata. The bucket is
  created when missing.

Reading by reference verifies size and sha256: a mismatch raises DomainError
`file_checksum_mismatch`, a missing file `file_missing`.
"""

import contextlib
import hashlib
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from nameko.extensions import DependencyProvider

from . import config as cfg
from .errors import DomainError

CHUNK = 1024 * 1024
INCOMING = "incoming"
OUTGOING = "outgoing"
KEY_PATTERN = re.compile(r"[a-z0-9_-][a-z0-9._-]{0,127}(/[a-z0-9_-][a-z0-9._-]{0,127}){0,7}")
SUM_SUFFIX = ".sha256"
Ref = dict[str, Any]


def missing(key: str) -> DomainError:
    return DomainError(
        "file_missing", "Het bestand is niet (meer) aanwezig in de bestandsopslag.", status=410
    )


def too_large(limit: int) -> DomainError:
    return DomainError(
        "file_too_large",
        f"Het bestand is te groot (maximaal {limit // (1024 * 1024)} MB).",
        status=413,
        field="file",
    )


def unavailable(exc: Exception) -> DomainError:
    return DomainError(
        "file_store_unavailable",
        "De bestandsopslag is tijdelijk niet bereikbaar. Probeer het later opnieuw.",
        status=503,
        extra={"reason": type(exc).__name__},
    )


def check_key(key: Any) -> str:
    if (
        not isinstance(key, str)
        or not KEY_PATTERN.fullmatch(key)
        or key.endswith(SUM_SUFFIX)
        or ".." in key
    ):
        raise DomainError(
            "file_reference_invalid", "De verwijzing naar het bestand is ongeldig.", status=400
        )
    return key


def incoming_ref(ref: Any) -> Ref:
    """A reference received over RPC: a dict naming an `incoming/` key with its
    size and sha256. Anything else is `file_reference_invalid` (a caller never
    names a stored file of its own choosing)."""
    ok = (
        isinstance(ref, dict)
        and isinstance(ref.get("key"), str)
        and ref["key"].startswith(INCOMING + "/")
        and isinstance(ref.get("size"), int)
        and not isinstance(ref.get("size"), bool)
        and isinstance(ref.get("sha256"), str)
        and re.fullmatch(r"[0-9a-f]{64}", ref["sha256"]) is not None
    )
    if not ok:
        raise DomainError(
            "file_reference_invalid", "De verwijzing naar het bestand is ongeldig.", status=400
        )
    check_key(ref["key"])
    return {"key": ref["key"], "size": ref["size"], "sha256": ref["sha256"]}


def chunks(source: bytes | IO[bytes]) -> Iterator[bytes]:
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source)
        for start in range(0, len(view), CHUNK):
            yield bytes(view[start : start + CHUNK])
        return
    while True:
        block = source.read(CHUNK)
        if not block:
            return
        yield block


class Tally:
    """Size and sha256 of what passes; past `limit` bytes: file_too_large."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit, self.size, self.hash = limit, 0, hashlib.sha256()

    def add(self, block: bytes) -> bytes:
        self.size += len(block)
        if self.limit is not None and self.size > self.limit:
            raise too_large(self.limit)
        self.hash.update(block)
        return block

    def ref(self, key: str) -> Ref:
        return {"key": key, "size": self.size, "sha256": self.hash.hexdigest()}


def checksum_mismatch(key: str) -> DomainError:
    return DomainError(
        "file_checksum_mismatch",
        "Het opgeslagen bestand is beschadigd (controlegetal klopt niet).",
        status=500,
        extra={"key": key},
    )


class FileStore:
    """put → reference; read/iterate by reference (verified); stat, delete,
    move (adopt an incoming file under its lasting key), sweep."""

    kind = "?"

    # -- what each store implements -------------------------------------------------
    def put(self, key: str, source: bytes | IO[bytes], max_bytes: int | None = None) -> Ref:
        raise NotImplementedError

    def stat(self, key: str) -> Ref:
        """The reference of a stored file (sha256 None for a file stored
        without one); file_missing when there is none."""
        raise NotImplementedError

    def _raw_chunks(self, key: str) -> Iterator[bytes]:
        raise NotImplementedError

    def move(self, ref: Ref, key: str) -> Ref:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def keys(self, prefix: str) -> Iterator[tuple[str, float]]:
        """(key, modified as epoch seconds) of the files under `prefix`."""
        raise NotImplementedError

    @contextlib.contextmanager
    def local_path(self, ref: Ref) -> Iterator[Path]:
        """A local file with the content (for a parser that reads paths)."""
        raise NotImplementedError
        yield Path()

    # -- shared -------------------------------------------------------------------------
    @staticmethod
    def new_key(prefix: str = INCOMING) -> str:
        return check_key(f"{prefix}/{uuid.uuid4().hex}")

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except DomainError as exc:
            if exc.code == "file_missing":
                return False
            raise
        return True

    def iter_chunks(self, ref: Ref) -> Iterator[bytes]:
        """The content in chunks; the checksum is checked at the end (a
        mismatch raises there, after the chunks before it were given)."""
        key = check_key(ref["key"])
        tally = Tally()
        for block in self._raw_chunks(key):
            yield tally.add(block)
        self._verify(ref, tally)

    def read(self, ref: Ref) -> bytes:
        """The whole content, verified against the reference."""
        return b"".join(self.iter_chunks(ref))

    def _verify(self, ref: Ref, tally: Tally) -> None:
        want_sum, want_size = ref.get("sha256"), ref.get("size")
        if (want_size is not None and want_size != tally.size) or (
            want_sum and want_sum != tally.hash.hexdigest()
        ):
            raise checksum_mismatch(ref["key"])

    def take(self, ref: Any, max_bytes: int | None = None) -> bytes:
        """The content of an incoming file received over RPC (`incoming_ref`),
        verified; the file is deleted whatever happens."""
        ref = incoming_ref(ref)
        try:
            if max_bytes is not None and ref["size"] > max_bytes:
                raise too_large(max_bytes)
            return self.read(ref)
        finally:
            self.delete(ref["key"])

    def discard(self, ref: Any) -> None:
        """Delete the incoming file of a request refused before reading it;
        anything but a valid incoming reference is ignored."""
        with contextlib.suppress(DomainError):
            self.delete(incoming_ref(ref)["key"])

    def delete_prefix(self, prefix: str) -> int:
        check_key(prefix)
        found = [key for key, _ in self.keys(prefix.rstrip("/") + "/")]
        for key in found:
            self.delete(key)
        return len(found)

    def sweep(self, prefix: str = INCOMING, older_than: float = 3600.0) -> int:
        """Delete the files under `prefix` older than `older_than` seconds
        (incoming files nobody adopted: an RPC that failed or never came)."""
        cutoff = time.time() - older_than
        old = [key for key, modified in self.keys(prefix.rstrip("/") + "/") if modified < cutoff]
        for key in old:
            self.delete(key)
        return len(old)


class LocalStore(FileStore):
    kind = "local"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _sum_path(self, path: Path) -> Path:
        return path.with_name(path.name + SUM_SUFFIX)

    def put(self, key: str, source: bytes | IO[bytes], max_bytes: int | None = None) -> Ref:
        path = self.path(key)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tally = Tally(max_bytes)
        try:
            with self._create(tmp) as fh:
                for block in chunks(source):
                    fh.write(tally.add(block))
                fh.flush()
                os.fsync(fh.fileno())
            ref = tally.ref(key)
            self._write_sum(path, ref["sha256"])
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return ref

    def _create(self, tmp: Path) -> IO[bytes]:
        """A new temporary file, its folder made (again, should a delete of its
        last file have removed it meanwhile)."""
        for attempt in range(3):
            tmp.parent.mkdir(parents=True, exist_ok=True)
            try:
                return open(tmp, "xb")
            except FileNotFoundError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _write_sum(self, path: Path, sha256: str) -> None:
        target = self._sum_path(path)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(sha256)
        os.replace(tmp, target)

    def stat(self, key: str) -> Ref:
        path = self.path(key)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise missing(key) from None
        try:
            sha256: str | None = self._sum_path(path).read_text().strip() or None
        except FileNotFoundError:
            sha256 = None  # stored before the file store kept checksums
        return {"key": key, "size": size, "sha256": sha256}

    def _raw_chunks(self, key: str) -> Iterator[bytes]:
        try:
            fh = open(self.path(key), "rb")  # noqa: SIM115 (closed below, in a generator)
        except FileNotFoundError:
            raise missing(key) from None
        with fh:
            yield from chunks(fh)

    def move(self, ref: Ref, key: str) -> Ref:
        source, target = self.path(ref["key"]), self.path(key)
        found = self.stat(ref["key"])
        if ref.get("size") is not None and found["size"] != ref["size"]:
            raise checksum_mismatch(ref["key"])
        target.parent.mkdir(parents=True, exist_ok=True)
        if ref.get("sha256"):
            self._write_sum(target, ref["sha256"])
        os.replace(source, target)
        self._sum_path(source).unlink(missing_ok=True)
        return {**ref, "key": key}

    def delete(self, key: str) -> None:
        path = self.path(key)
        path.unlink(missing_ok=True)
        self._sum_path(path).unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # drop emptied folders, not the top ones
            parent = path.parent
            while parent.parent != self.root and parent != self.root and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent

    def keys(self, prefix: str) -> Iterator[tuple[str, float]]:
        base = self.root / check_key(prefix.rstrip("/"))
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            name = path.name
            if name.startswith(".") or name.endswith(SUM_SUFFIX) or not path.is_file():
                continue
            yield path.relative_to(self.root).as_posix(), path.stat().st_mtime

    @contextlib.contextmanager
    def local_path(self, ref: Ref) -> Iterator[Path]:
        path = self.path(ref["key"])
        if not path.exists():
            raise missing(ref["key"])
        yield path


def hand_out(files: FileStore, result: dict[str, Any]) -> dict[str, Any]:
    """A service's answer with a file (`data`: bytes) as the gateway gets it:
    the bytes stored once under outgoing/ and `file` their reference; the
    gateway streams it and deletes it (what is left is swept)."""
    out = dict(result)
    out["file"] = files.put(files.new_key(OUTGOING), out.pop("data"))
    return out


KINDS = ("local", "s3")


def from_config(config: dict[str, Any] | None = None) -> FileStore:
    """The store the settings name (a nameko config dict, else the environment)."""
    kind = (cfg.setting("LEERLINGBUS_FILESTORE", config, "local") or "local").strip().lower()
    if kind == "local":
        root = cfg.setting("LEERLINGBUS_FILESTORE_DIR", config) or cfg.data_dir(config)
        return LocalStore(root)
    if kind == "s3":
        spool = cfg.data_dir(config) / "tmp"
        spool.mkdir(parents=True, exist_ok=True)
        from .filestore_s3 import S3Store

        return S3Store(
            bucket=cfg.setting("LEERLINGBUS_S3_BUCKET", config, "leerlingbus"),
            endpoint=cfg.setting("LEERLINGBUS_S3_ENDPOINT", config),
            access_key=cfg.setting("LEERLINGBUS_S3_ACCESS_KEY", config),
            secret_key=cfg.setting("LEERLINGBUS_S3_SECRET_KEY", config),
            region=cfg.setting("LEERLINGBUS_S3_REGION", config, "us-east-1"),
            spool_dir=spool,
        )
    raise ValueError(f"LEERLINGBUS_FILESTORE must be one of {', '.join(KINDS)}, not {kind!r}")


class Files(DependencyProvider):
    """The store as a nameko dependency (built once per service container)."""

    def setup(self) -> None:
        self.store = from_config(self.container.config)

    def get_dependency(self, worker_ctx: Any) -> FileStore:
        return self.store
