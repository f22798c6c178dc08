"""The check process kept ready (checkproc.py --wait, readycheck.py): it
takes its arguments from its standard input and writes where they say, with
the outcome of a process started for the list; it leaves when its input
closes without a line; a ready process that died is replaced by a new one."""
import json
import subprocess
import sys
import time

import eventlet

from services.uploads import readycheck
from tests.uploads import xlsxfactory as xf


def _args(tmp_path, rows):
    path = tmp_path / "lijst.xlsx"
    path.write_bytes(xf.make_list(rows))
    return {"path": str(path), "school_type": "vo", "student_type": "potential_transfer",
            "sheet": "Leerlingen", "rows_path": str(tmp_path / "rows.jsonl.gz"),
            "max_errors": 100, "max_rows": 1000, "lookup_chunk": 2, "workers": 1,
            "result_path": str(tmp_path / "result.json"),
            "numbers_path": str(tmp_path / "numbers.tsv"),
            "out_path": str(tmp_path / "check.out"), "err_path": str(tmp_path / "check.err")}


def _wait(proc, timeout=60):
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        assert time.monotonic() < deadline, "the check process did not end"
        eventlet.sleep(0.02)
    return proc.returncode


def test_a_waiting_check_process_takes_its_list_from_stdin(tmp_path):
    rows = [xf.student_row(i) for i in range(1, 5)]
    rows[3]["Leerlingnummer"] = rows[0]["Leerlingnummer"]
    args = _args(tmp_path, rows)
    for name in ("out_path", "err_path"):
        open(args[name], "wb").close()  # the service creates them and follows the first
    proc = subprocess.Popen([sys.executable, "-m", "services.uploads.checkproc", "--wait"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    out, err = proc.communicate(json.dumps(args).encode() + b"\n", timeout=60)
    assert proc.returncode == 0, err
    assert out == b"" and err == b""  # its lines went to the files the arguments name
    said = (tmp_path / "check.out").read_text().splitlines()
    assert said[-1] == "done" and any(line.startswith("numbers ") for line in said)
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["rows"] == 4 and [e["code"] for e in result["errors"]] == \
        ["student_number_duplicate"]


def test_a_waiting_check_process_leaves_when_its_input_closes():
    proc = subprocess.Popen([sys.executable, "-m", "services.uploads.checkproc", "--wait"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out, _ = proc.communicate(b"", timeout=60)
    assert proc.returncode == 0 and out == b""


def test_the_ready_process_checks_the_next_list_and_a_dead_one_is_replaced(tmp_path):
    ready = readycheck.ReadyCheck()
    try:
        ready.prepare()
        waiting = ready.proc
        assert waiting is not None
        ready.prepare()  # one is enough
        assert ready.proc is waiting
        args = _args(tmp_path, [xf.student_row(i) for i in range(1, 4)])
        with open(args["out_path"], "wb") as out, open(args["err_path"], "wb") as err:
            proc = ready.start(args, out, err)
        assert proc is waiting and ready.proc is None
        assert _wait(proc) == 0
        assert json.loads((tmp_path / "result.json").read_text())["rows"] == 3

        ready.prepare()
        ready.proc.kill()
        _wait(ready.proc)
        (tmp_path / "result.json").unlink()
        with open(args["out_path"], "wb") as out, open(args["err_path"], "wb") as err:
            proc = ready.start(args, out, err)  # a process of its own
        assert _wait(proc) == 0 and (tmp_path / "check.out").read_text().endswith("done\n")
        assert json.loads((tmp_path / "result.json").read_text())["rows"] == 3
    finally:
        ready.close()
