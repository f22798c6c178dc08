"""A check process kept ready: `python -m services.uploads.checkproc --wait`
started when a list comes in and after each verdict, so a list's check starts
in an interpreter that has already imported what it needs (a tenth of a
second of the verdict otherwise). One per service process; it leaves when its
standard input closes, so with the service too. Any doubt about it (it died,
its pipe broke) and the check starts a process of its own, as without it."""
import contextlib
import json
import subprocess
import sys
from pathlib import Path

import eventlet
from eventlet.green import subprocess as green_subprocess

from . import checkproc

ROOT = Path(__file__).resolve().parents[2]
MODULE = "services.uploads.checkproc"


class ReadyCheck:
    def __init__(self):
        self.proc = None

    def start(self, args, out, err):
        """A check process working on `args`: the ready one when there is
        one, else a new one with `out` and `err` (files) as its stdout and
        stderr. `args` name the same files (out_path, err_path)."""
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.poll() is None:
                try:
                    proc.stdin.write(json.dumps(args).encode() + b"\n")
                    proc.stdin.close()
                    return proc
                except OSError:
                    pass
            _reap(proc)
        return green_subprocess.Popen([sys.executable, "-m", MODULE, json.dumps(args)],
                                      stdout=out, stderr=err, cwd=str(ROOT))

    def prepare(self):
        """Start a process that waits for the next list (none when one waits)."""
        if self.proc is not None and self.proc.poll() is None:
            return
        try:
            self.proc = green_subprocess.Popen(
                [sys.executable, "-m", MODULE, checkproc.WAIT], stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, cwd=str(ROOT))
        except OSError:  # pragma: no cover - the next check starts its own
            self.proc = None

    def close(self):
        proc, self.proc = self.proc, None
        if proc is not None:
            _reap(proc)


def _reap(proc):
    """Let a ready process go (its stdin closed: it leaves) and collect it."""
    with contextlib.suppress(OSError):
        proc.stdin.close()
    eventlet.spawn_n(proc.wait)


READY = ReadyCheck()
