"""Files of the uploads service under <data dir>/uploads/: per submission the
original, the report and the clean rows; per import the original CSV.
Written atomically (temporary file + rename), readable by every replica that
mounts the same data dir."""
import gzip
import json
import os
import shutil
import uuid
from pathlib import Path

ORIGINAL = "original.xlsx"
REPORT = "report.xlsx"
ROWS = "rows.jsonl.gz"


def submission_dir(data_dir, submission_id) -> Path:
    return Path(data_dir) / "uploads" / "lists" / str(int(submission_id))


def import_dir(data_dir, import_id) -> Path:
    return Path(data_dir) / "uploads" / "imports" / str(int(import_id))


def write_atomic(path: Path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class RowsWriter:
    """Clean rows as gzip'd JSON lines, written as they are checked."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        self.fh = gzip.open(self.tmp, "wt", encoding="utf-8", compresslevel=1)
        self.count = 0

    def write(self, row):
        self.fh.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
        self.fh.write("\n")
        self.count += 1

    def commit(self):
        self.fh.close()
        os.replace(self.tmp, self.path)

    def discard(self):
        try:
            self.fh.close()
        finally:
            if self.tmp.exists():
                self.tmp.unlink()


def read_rows(path: Path):
    """Every row of a clean-rows file, decoded as one JSON array (one parse
    instead of one per row: a load reads 20,000 rows and more)."""
    lines = [line for line in gzip.decompress(path.read_bytes()).split(b"\n") if line.strip()]
    return json.loads(b"[" + b",".join(lines) + b"]")


def read_rows_page(path: Path, offset: int, limit: int):
    """(rows offset..offset+limit, total) of a clean-rows file, decoding only
    the rows of the page: a page of a 100,000-row list stays cheap."""
    rows, total = [], 0
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            if offset <= total < offset + limit:
                rows.append(json.loads(line))
            total += 1
    return rows, total


def remove_dir(path: Path):
    shutil.rmtree(path, ignore_errors=True)
