"""schemathesis against the gateway's own /openapi.json, bounded: every
operation with a few generated requests (the schema's examples and
boundaries, then random ones) as an institution's admin. No answer may be a
server error, and every answer (status, content type) must be one the
document describes. So the document stays true to the API as built.

schemathesis runs as its CLI in a child process (green: the gateway under
test serves in this process); the run is deterministic (a fixed seed) and
bounded in examples and time.
"""
import os
import sys
from pathlib import Path

import eventlet
from eventlet.green import subprocess

from tests.helpers import make_admin, make_institution

MAX_EXAMPLES = int(os.environ.get("LEERLINGBUS_FUZZ_EXAMPLES", "4"))
TIME_LIMIT = 240  # seconds; the run takes well under it


def test_the_openapi_document_holds_under_fuzzing(system, tmp_path):
    school = make_institution(system)
    admin = make_admin(system, school)
    st = Path(sys.executable).parent / "st"
    report = tmp_path / "junit.xml"
    cmd = [str(st), "run", f"{system.base_url}/openapi.json",
           "--header", f"Authorization: Bearer {admin}",
           "--checks", "not_a_server_error,status_code_conformance,content_type_conformance",
           "--phases", "examples,coverage,fuzzing",
           "--max-examples", str(MAX_EXAMPLES), "--generation-deterministic", "--seed", "12",
           "--workers", "2", "--request-timeout", "20", "--no-color",
           "--report", "junit", "--report-junit-path", str(report)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    with eventlet.Timeout(TIME_LIMIT):
        out = proc.stdout.read().decode(errors="replace")
        status = proc.wait()
    assert status == 0, out[-12000:]
