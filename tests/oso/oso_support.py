"""Shared helpers of the oso tests (constants, the fake LAS)."""
import re
from pathlib import Path
from urllib.parse import parse_qs

REPO_ROOT = Path(__file__).resolve().parents[2]
STANDARD_DIR = REPO_ROOT.parent / "shared" / "standards" / "oso"
EXAMPLES = STANDARD_DIR / "examples"
SKIP_REASON = (f"the OSO standard files are not at {STANDARD_DIR} (they are read from "
               f"../shared/standards/oso next to the checkout, never copied into the project)")

# the BSN inside each example dossier
EXAMPLE_BSN = {
    "Voorbeelddossier_OV_POVO_full.xml": "269326728",
    "Voorbeelddossier_OV_POVO_opt_out.xml": "246263738",
    "Voorbeelddossier_OV_POPO_full.xml": "297816238",
    "Voorbeelddossier_OV_POPO_opt_out.xml": "210724894",
}
# the key as Mijn OSO shows it, and the older form with the BRIN in front
KEY = "018294B0-8DE2-4269-A422-E09C320A55C1"
KEY_PREFIXED = "00AB-" + KEY


def example_bytes(name):
    return (EXAMPLES / name).read_bytes()


def with_bsn(content: bytes, bsn: str) -> bytes:
    return re.sub(rb"<bsn>\d+</bsn>", b"<bsn>" + bsn.encode() + b"</bsn>", content, count=1)


class FakeLas:
    """A tiny LAS: GET /dossiers/{bsn}?brin=&aanleverpunt= with X-OSO-Sleutel."""

    def __init__(self, key):
        self.key = key
        self.dossiers = {}
        self.requests = []
        self.url = None

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        params = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        key = environ.get("HTTP_X_OSO_SLEUTEL")
        self.requests.append({"path": path, "params": params, "key": key})
        if key != self.key:
            start_response("401 Unauthorized", [("Content-Type", "text/plain")])
            return [b"sleutel onbekend"]
        match = re.fullmatch(r"/dossiers/(\d+)", path)
        body = self.dossiers.get(match.group(1)) if match else None
        if body is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"geen dossier"]
        start_response("200 OK", [("Content-Type", "application/xml"),
                                  ("Content-Length", str(len(body)))])
        return [body]
