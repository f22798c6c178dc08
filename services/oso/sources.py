"""Dossier sources: where the oso service fetches a student's OSO dossier.

Every source implements one interface (`DossierSource.fetch`). Which one is
used is configuration (docs/oso.md):

    LEERLINGBUS_OSO_SOURCE          folder | http | <module>:<Class>  (optional)
    LEERLINGBUS_OSO_SOURCE_DIR      folder source: a directory of *.xml dossiers
    LEERLINGBUS_OSO_SOURCE_URL      http source: base URL of the LAS / OSO gateway
    LEERLINGBUS_OSO_SOURCE_TIMEOUT  http source: seconds per request (default 15)

Without LEERLINGBUS_OSO_SOURCE the URL wins over the directory. A new source
(for example the real OSO network with its register and PKIoverheid
certificates) is a new class with the same `fetch`, named by
LEERLINGBUS_OSO_SOURCE=<module>:<Class>; nothing else changes.
"""
import importlib
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from services.common import config as cfg

from . import rules

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class DossierRequest:
    """What identifies a dossier in OSO: the receiving school's BRIN and
    delivery point with its key, and the student's BSN (or onderwijsnummer)."""
    brin: str
    delivery_point: str
    key: str
    number: str
    kind: str = "bsn"          # "bsn" | "onderwijsnummer"

    def __repr__(self):  # never print the BSN or the key
        return (f"DossierRequest(brin={self.brin!r}, delivery_point={self.delivery_point!r}, "
                f"kind={self.kind!r})")


@dataclass
class FetchedDossier:
    content: bytes
    origin: str                # where it came from, shown to the user (no BSN in it)


class SourceError(Exception):
    """The source could not deliver: `code` is stable, `message` Dutch."""

    def __init__(self, code, message):
        super().__init__(code, message)
        self.code = code
        self.message = message


class DossierSource:
    """The interface. `fetch` returns a FetchedDossier, or raises SourceError
    (`dossier_not_found` when no dossier is ready for this student)."""

    kind = "abstract"

    def __init__(self, config=None):
        self.config = config or {}
        self.max_bytes = cfg.setting_int("LEERLINGBUS_OSO_MAX_DOSSIER_BYTES", self.config,
                                         DEFAULT_MAX_BYTES)

    def _required(self, value, name, what):
        """`value`, else the setting `name`; without either the source is not configured."""
        value = value or cfg.setting(name, self.config)
        if not value:
            raise SourceError("source_not_configured", f"Er is geen {what} ingesteld ({name}).")
        return value

    def fetch(self, request: DossierRequest) -> FetchedDossier:  # pragma: no cover
        raise NotImplementedError

    def brin_of_key(self, delivery_point, key):
        """(brin, key): the BRIN a delivery-point key belongs to, or None when
        unknown (the key as Mijn OSO shows it does not say: the institution's
        BRIN is taken), and the key as Mijn OSO shows it (what `fetch` gets as
        request.key). rules.key_brin reads a `<BRIN>-` in front of the key; a
        source that can ask the OSO register overrides this."""
        return rules.key_brin(key)

    def describe(self):
        return {"kind": self.kind}


_ID_PATTERN = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?(bsn|onderwijsnummer)>\s*([0-9]{8,9})\s*</", re.I)


class FolderSource(DossierSource):
    """Every *.xml in the directory is a dossier, found by the BSN or
    onderwijsnummer inside it, whatever the file is called. A subdirectory
    named after the receiving BRIN (e.g. `00AB/`), when present, is searched
    instead, so one folder can serve several schools. When several files hold
    the same student, the most recently changed one is taken."""

    kind = "folder"

    def __init__(self, config=None, directory=None):
        super().__init__(config)
        directory = self._required(directory, "LEERLINGBUS_OSO_SOURCE_DIR",
                                   "map met OSO-dossiers")
        self.directory = Path(directory)
        self._index = {}          # path -> (mtime_ns, size, ids)
        self._lock = threading.Lock()

    def _folder(self, brin):
        for name in (brin, brin[:4]):
            if name and (self.directory / name).is_dir():
                return self.directory / name
        return self.directory

    def _ids(self, path, stat):
        cached = self._index.get(path)
        if cached and cached[0] == stat.st_mtime_ns and cached[1] == stat.st_size:
            return cached[2]
        ids = set()
        if stat.st_size <= self.max_bytes:
            with open(path, "rb") as fh:
                head = fh.read(self.max_bytes)
            for kind, number in _ID_PATTERN.findall(head):
                ids.add((kind.decode().lower(), number.decode().zfill(9)))
        self._index[path] = (stat.st_mtime_ns, stat.st_size, ids)
        return ids

    def fetch(self, request):
        folder = self._folder(request.brin)
        if not folder.is_dir():
            raise SourceError("source_unavailable",
                              "De map met OSO-dossiers is niet bereikbaar.")
        wanted = (request.kind, request.number)
        best = None
        with self._lock:
            for path in folder.glob("*.xml"):
                try:
                    stat = path.stat()
                    if not path.is_file():
                        continue
                    if wanted in self._ids(str(path), stat):
                        if best is None or stat.st_mtime_ns > best[0]:
                            best = (stat.st_mtime_ns, path)
                except OSError:
                    continue
        if best is None:
            raise SourceError("dossier_not_found",
                              "Er staat geen OSO-dossier klaar voor deze leerling. Vraag de "
                              "school van herkomst het dossier klaar te zetten.")
        data = best[1].read_bytes()
        if len(data) > self.max_bytes:
            raise SourceError("dossier_too_large", "Het OSO-dossier is te groot om in te lezen.")
        return FetchedDossier(data, f"map: {best[1].name}")

    def describe(self):
        return {"kind": self.kind, "directory": str(self.directory)}


class HttpSource(DossierSource):
    """GET {base}/dossiers/{number}?brin=…&aanleverpunt=… with the key in the
    `X-OSO-Sleutel` header (docs/oso.md). 200 with the XML is a dossier, 404 is
    "none ready", 401/403 is a refused key; anything else is unavailable."""

    kind = "http"

    def __init__(self, config=None, base_url=None):
        super().__init__(config)
        base_url = self._required(base_url, "LEERLINGBUS_OSO_SOURCE_URL", "adres van de OSO-bron")
        self.base_url = base_url.rstrip("/")
        # urllib3 logs request paths at DEBUG, and the path holds the BSN
        logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)
        self.timeout = cfg.setting_float("LEERLINGBUS_OSO_SOURCE_TIMEOUT", self.config, 15)

    def fetch(self, request):
        import requests

        url = f"{self.base_url}/dossiers/{request.number}"
        params = {"brin": request.brin, "aanleverpunt": request.delivery_point}
        if request.kind != "bsn":
            params["soort"] = request.kind
        headers = {"X-OSO-Sleutel": request.key, "Accept": "application/xml"}
        try:
            with requests.get(url, params=params, headers=headers, timeout=self.timeout,
                              stream=True) as resp:
                status = resp.status_code
                if status == 200:
                    chunks, size = [], 0
                    for chunk in resp.iter_content(64 * 1024):
                        size += len(chunk)
                        if size > self.max_bytes:
                            raise SourceError("dossier_too_large",
                                              "Het OSO-dossier is te groot om in te lezen.")
                        chunks.append(chunk)
                    return FetchedDossier(b"".join(chunks), f"http: {self.base_url}")
        except requests.RequestException as exc:
            log.warning("oso http source unreachable: %s", type(exc).__name__)
            raise SourceError("source_unavailable",
                              "De OSO-bron (het leerlingadministratiesysteem) is niet "
                              "bereikbaar. Probeer het later opnieuw.") from None
        if status == 404:
            raise SourceError("dossier_not_found",
                              "Er staat geen OSO-dossier klaar voor deze leerling. Vraag de "
                              "school van herkomst het dossier klaar te zetten.")
        if status in (401, 403):
            raise SourceError("key_refused",
                              "De OSO-bron weigert de sleutel van het aanleverpunt. Controleer "
                              "het aanleverpunt en de sleutel onder OSO > Aanleverpunt.")
        raise SourceError("source_unavailable",
                          f"De OSO-bron gaf een onverwacht antwoord (HTTP {status}). Probeer "
                          f"het later opnieuw.")

    def describe(self):
        return {"kind": self.kind, "url": self.base_url}


BUILTIN = {"folder": FolderSource, "http": HttpSource}


def source_from_config(config=None):
    """The configured source, or raises SourceError(source_not_configured)."""
    choice = cfg.setting("LEERLINGBUS_OSO_SOURCE", config)
    if not choice:
        if cfg.setting("LEERLINGBUS_OSO_SOURCE_URL", config):
            choice = "http"
        elif cfg.setting("LEERLINGBUS_OSO_SOURCE_DIR", config):
            choice = "folder"
        else:
            raise SourceError("source_not_configured",
                              "Er is geen OSO-bron ingesteld. De beheerder van Leerlingbus stelt "
                              "LEERLINGBUS_OSO_SOURCE_URL of LEERLINGBUS_OSO_SOURCE_DIR in.")
    cls = BUILTIN.get(choice.lower())
    if cls is None:
        module, _, name = choice.partition(":")
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError, ValueError):
            raise SourceError("source_not_configured",
                              f"De ingestelde OSO-bron '{choice}' bestaat niet.") from None
    return cls(config)
