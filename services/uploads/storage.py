"""Files of the uploads service. The original of a submission or import and a
list's report live in the shared file store (services/common/filestore.py,
`settings.files`) under the keys below; with the local store (the default,
rooted at the data dir) those are the paths <data dir>/uploads/... they always
had. The clean rows of a checked list are a working file under
<data dir>/uploads/lists/<id>/, written atomically (temporary file + rename),
readable by every replica that mounts the same data dir."""
import gzip
import json
import os
import shutil
import uuid
from pathlib import Path

import orjson

ORIGINAL = "original.xlsx"
REPORT = "report.xlsx"
ROWS = "rows.jsonl.gz"


def submission_dir(data_dir, submission_id) -> Path:
    return Path(data_dir) / "uploads" / "lists" / str(int(submission_id))


def import_dir(data_dir, import_id) -> Path:
    return Path(data_dir) / "uploads" / "imports" / str(int(import_id))


def submission_key(submission_id, name) -> str:
    """The file store's key of a submission's file (ORIGINAL, REPORT)."""
    return f"uploads/lists/{int(submission_id)}/{name}"


def import_key(import_id, name) -> str:
    return f"uploads/imports/{int(import_id)}/{name}"


def keep(settings, key, content, upload=None):
    """Store a received file under its lasting key: the incoming file of the
    upload adopted (moved, not copied) when there is one, else the bytes."""
    if upload is not None and upload.ref is not None:
        return upload.adopt(settings.files, key)
    return settings.files.put(key, content)


def forget_submission(settings, submission_id):
    """Every file of a submission: in the file store and the working files."""
    settings.files.delete_prefix(f"uploads/lists/{int(submission_id)}")
    remove_dir(submission_dir(settings.data_dir, submission_id))


def forget_import(settings, import_id):
    settings.files.delete_prefix(f"uploads/imports/{int(import_id)}")
    remove_dir(import_dir(settings.data_dir, import_id))


def write_atomic(path: Path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class RowsWriter:
    """Clean rows as gzip'd JSON lines, written as they are checked (in
    batches of `BATCH` lines; orjson: a third of the check's writing time)."""

    BATCH = 1000

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        self.fh = gzip.open(self.tmp, "wb", compresslevel=1)
        self.count = 0
        self.lines = []

    def write(self, row):
        self.lines.append(orjson.dumps(row))
        self.count += 1
        if len(self.lines) >= self.BATCH:
            self._flush()

    def _flush(self):
        if self.lines:
            self.lines.append(b"")
            self.fh.write(b"\n".join(self.lines))
            self.lines = []

    def commit(self, append=None):
        """Write the file; `append`: a gzip'd rows file whose rows follow."""
        self._flush()
        self.fh.close()
        if append is not None and append.exists():
            with open(self.tmp, "ab") as out, open(append, "rb") as more:
                shutil.copyfileobj(more, out)  # gzip members in a row: one stream
        os.replace(self.tmp, self.path)

    def discard(self):
        try:
            self.fh.close()
        finally:
            if self.tmp.exists():
                self.tmp.unlink()


def read_rows(path: Path):
    """Every row of a clean-rows file, decoded as one JSON array (one parse
    instead of one per row: a load reads 20,000 rows and more), by orjson,
    which wrote them (RowsWriter)."""
    lines = [line for line in gzip.decompress(path.read_bytes()).split(b"\n") if line.strip()]
    return orjson.loads(b"[" + b",".join(lines) + b"]")


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
