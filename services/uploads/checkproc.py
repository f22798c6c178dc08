"""Checking a student list in a child process (validate.check_file), so the
uploads service's hub and heartbeats never wait for the GIL and the sheet
python-calamine holds never counts against the service's memory.

    python -m services.uploads.checkproc '<json arguments>'
    python -m services.uploads.checkproc --wait    (the arguments later, on stdin)

With --wait the process starts and imports what the check needs, then waits
for one line of JSON arguments on its standard input (the service keeps one
such process ready: readycheck.py, so a list's check does not wait for an
interpreter to start); it writes its lines to the files named `out_path` and
`err_path` instead of its own stdout and stderr, and leaves quietly when its
standard input closes without a line (the service stopped).

Prints `progress <rows>` lines while it works (and, when asked for with
`lookup_chunk`, `numbers <JSON list>` lines: the student numbers of clean rows
for the parent to look up meanwhile) and writes the outcome as JSON
to `result_path` (a pipe read line by line through eventlet is slow for
megabytes); exit status 3 when the file cannot be read (a calamine error), any
other non-zero status for a crash. jobs.py runs it with eventlet's green
subprocess and reads the lines as they come.
"""
import gc
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path

UNREADABLE = 3
WAIT = "--wait"
FILE_ERRORS = ("CalamineError", "XmlError", "ZipError", "WorksheetNotFound", "PasswordError")


def _cpu_seconds():
    """CPU of this process and of the forked part of a split check."""
    return round(sum(u.ru_utime + u.ru_stime for u in (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN))), 3)


def _peak_rss_mb():
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM"):
                    return int(line.split()[1]) // 1024
    except OSError:  # pragma: no cover - not Linux
        return None


def main(argv):
    # a short-lived process whose rows hold no reference cycles: the cyclic
    # collector would only scan them again and again
    gc.disable()
    if argv[:1] == [WAIT]:
        from . import validate  # ready before the list comes
        line = sys.stdin.buffer.readline()
        if not line.strip():
            return 0  # not needed: the service stopped
        args = json.loads(line)
        for fd, key in ((1, "out_path"), (2, "err_path")):
            if args.get(key):
                target = os.open(args[key], os.O_WRONLY | os.O_APPEND)
                os.dup2(target, fd)
                os.close(target)
    else:
        args = json.loads(argv[0])
    from . import validate
    startup = round(time.time() - args["t0"], 3) if "t0" in args else None

    progress = validate.Progress()
    stop = threading.Event()

    def say(line):
        # one write of a whole line, no lock: the forked part of a split
        # check (validate.check_file's workers) says its numbers here too
        os.write(1, (line + "\n").encode())

    def numbers(chunk):
        say("numbers " + json.dumps(chunk, separators=(",", ":")))

    def report():
        last = -1
        while not stop.wait(0.5):
            seen = progress.seen()
            if seen != last:
                last = seen
                say(f"progress {last}")

    reporter = threading.Thread(target=report, daemon=True)
    reporter.start()
    try:
        outcome = validate.check_file(
            Path(args["path"]), args["school_type"], args["student_type"], args["sheet"],
            Path(args["rows_path"]), args["max_errors"], progress, None, args.get("max_rows"),
            numbers if args.get("lookup_chunk") else None, args.get("lookup_chunk") or 0,
            args.get("workers", 1), args.get("split_rows"))
    except Exception as exc:  # noqa: BLE001 - reported by kind to the parent
        stop.set()
        sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
        return UNREADABLE if (type(exc).__name__ in FILE_ERRORS
                              or isinstance(exc, (ValueError, KeyError))) else 1
    stop.set()
    found = outcome.numbers
    if args.get("numbers_path"):  # the parent reads them when it needs them, not held
        Path(args["numbers_path"]).write_text("".join(
            f"{number}\t{bsn or ''}\t{row}\n" for number, bsn, row in found))
        found = None
    result = {"rows": outcome.rows, "errors": outcome.errors,
              "error_count": outcome.error_count, "numbers": found,
              "peak_rss_mb": _peak_rss_mb(), "cpu_seconds": _cpu_seconds(),
              "part_private_mb": outcome.part_private_mb, "startup_seconds": startup}
    Path(args["result_path"]).write_text(json.dumps(result, separators=(",", ":"),
                                                    default=str))
    say("done")
    return 0


if __name__ == "__main__":
    status = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # everything is written: no tear-down of the sheet's objects (a tenth of a
    # second the service would wait for)
    os._exit(status)
