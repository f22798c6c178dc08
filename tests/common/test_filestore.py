"""The shared file store (services/common/filestore.py): the same contract on
the local directory and on a real S3-compatible server (moto's S3 server in a
child process, tests.helpers.S3Server)."""
import hashlib
import io
import os
import time
import uuid

import pytest

from services.common import filestore
from services.common.errors import DomainError
from services.common.filestore_s3 import S3Store


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return filestore.from_config({"LEERLINGBUS_DATA_DIR": str(tmp_path / "var")})
    server = request.getfixturevalue("s3_server")
    config = {"LEERLINGBUS_DATA_DIR": str(tmp_path / "var"),
              **server.config(f"t-{uuid.uuid4().hex[:12]}")}
    return filestore.from_config(config)


def code_of(excinfo):
    return excinfo.value.code


def test_put_read_by_reference(store):
    content = os.urandom(3 * filestore.CHUNK + 17)  # several chunks
    key = store.new_key()
    ref = store.put(key, io.BytesIO(content), max_bytes=len(content))
    assert ref == {"key": key, "size": len(content),
                   "sha256": hashlib.sha256(content).hexdigest()}
    assert store.read(ref) == content
    assert store.stat(key) == ref
    assert store.exists(key)
    assert b"".join(store.iter_chunks(ref)) == content
    with store.local_path(ref) as path:
        assert path.read_bytes() == content


def test_limit_refused_and_nothing_left(store):
    key = store.new_key()
    with pytest.raises(DomainError) as exc:
        store.put(key, io.BytesIO(b"x" * 2048), max_bytes=1024)
    assert code_of(exc) == "file_too_large" and exc.value.status == 413
    assert not store.exists(key)
    assert list(store.keys("incoming/")) == []


def test_checksum_mismatch_and_missing(store):
    ref = store.put(store.new_key(), b"leerlingen")
    with pytest.raises(DomainError) as exc:
        store.read({**ref, "sha256": hashlib.sha256(b"anders").hexdigest()})
    assert code_of(exc) == "file_checksum_mismatch"
    with pytest.raises(DomainError) as exc:
        store.read({**ref, "size": ref["size"] + 1})
    assert code_of(exc) == "file_checksum_mismatch"
    store.delete(ref["key"])
    assert not store.exists(ref["key"])
    with pytest.raises(DomainError) as exc:
        store.read(ref)
    assert code_of(exc) == "file_missing" and exc.value.status == 410
    store.delete(ref["key"])  # deleting twice is fine


def test_move_adopts_under_lasting_key_and_prefix_delete(store):
    ref = store.put(store.new_key(), b"a;b\n1;2\n")
    kept = store.move(ref, "uploads/imports/7/original.csv")
    assert kept["key"] == "uploads/imports/7/original.csv" and kept["sha256"] == ref["sha256"]
    assert not store.exists(ref["key"])
    assert store.read(kept) == b"a;b\n1;2\n"
    assert store.stat(kept["key"])["sha256"] == ref["sha256"]
    store.put("uploads/imports/7/report.xlsx", b"r")
    store.put("uploads/imports/70/original.csv", b"other")
    assert store.delete_prefix("uploads/imports/7") == 2
    assert not store.exists(kept["key"])
    assert store.exists("uploads/imports/70/original.csv")


def test_sweep_removes_only_old_incoming(store):
    # S3 keeps LastModified in whole seconds (rounded down): a file just put
    # can look up to a second old, so the fresh one must stay well under the age
    old = store.put(store.new_key(), b"old")
    time.sleep(2.1)
    fresh = store.put(store.new_key(), b"fresh")
    kept = store.put("uploads/lists/1/original.xlsx", b"kept")
    assert store.sweep("incoming", older_than=2.0) == 1
    assert not store.exists(old["key"])
    assert store.exists(fresh["key"]) and store.exists(kept["key"])


@pytest.mark.parametrize("key", ["../etc/passwd", "/etc/passwd", "a/../b", ".hidden", "a//b",
                                 "A/B", "x.sha256", "", "a/" + "b/" * 9 + "c", None, 5])
def test_keys_cannot_leave_the_store(tmp_path, key):
    store = filestore.LocalStore(tmp_path)
    with pytest.raises(DomainError) as exc:
        store.put(key, b"x")
    assert code_of(exc) == "file_reference_invalid"


@pytest.mark.parametrize("ref", [
    None, "aW5jb21pbmc=", {"key": "uploads/lists/1/original.xlsx", "size": 1, "sha256": "0" * 64},
    {"key": "incoming/../uploads/x", "size": 1, "sha256": "0" * 64},
    {"key": "incoming/abc", "size": "1", "sha256": "0" * 64},
    {"key": "incoming/abc", "size": 1, "sha256": "xyz"},
])
def test_rpc_references_must_name_an_incoming_file(ref):
    with pytest.raises(DomainError) as exc:
        filestore.incoming_ref(ref)
    assert code_of(exc) == "file_reference_invalid" and exc.value.status == 400


def test_local_layout_and_legacy_files(tmp_path):
    """Keys map onto the directory (the uploads service's files keep their
    paths); a file stored without a checksum reads unverified."""
    store = filestore.LocalStore(tmp_path)
    ref = store.put("uploads/lists/3/original.xlsx", b"xlsx")
    assert (tmp_path / "uploads/lists/3/original.xlsx").read_bytes() == b"xlsx"
    legacy = tmp_path / "uploads/lists/4/report.xlsx"
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(b"old report")
    assert store.stat("uploads/lists/4/report.xlsx")["sha256"] is None
    assert store.read(store.stat("uploads/lists/4/report.xlsx")) == b"old report"
    assert [k for k, _ in store.keys("uploads/")] == [
        "uploads/lists/3/original.xlsx", "uploads/lists/4/report.xlsx"]
    store.delete(ref["key"])
    assert not (tmp_path / "uploads/lists/3").exists()  # emptied folders go too


def test_s3_unreachable_is_503(tmp_path):
    store = S3Store("b", endpoint="http://127.0.0.1:9", access_key="a",
                              secret_key="b")
    store.client.meta.config.retries = {"max_attempts": 0}
    with pytest.raises(DomainError) as exc:
        store.put(store.new_key(), b"x")
    assert code_of(exc) == "file_store_unavailable" and exc.value.status == 503


def test_unknown_store_kind_refused():
    with pytest.raises(ValueError):
        filestore.from_config({"LEERLINGBUS_FILESTORE": "ftp"})
