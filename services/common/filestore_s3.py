"""The S3-compatible file store (services/common/filestore.py): a bucket of
MinIO, AWS S3 or another S3 server, through boto3. Imported only when
LEERLINGBUS_FILESTORE=s3."""

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .filestore import (
    CHUNK,
    FileStore,
    Ref,
    Tally,
    check_key,
    checksum_mismatch,
    chunks,
    missing,
    unavailable,
)


class S3Store(FileStore):
    """An S3-compatible bucket. The checksum is the object's `sha256` metadata;
    uploads are spooled (memory up to 1 MB, then a temporary file) to learn it
    before sending."""

    kind = "s3"

    def __init__(
        self,
        bucket: str,
        endpoint: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.region = region or "us-east-1"
        self.spool_dir = str(spool_dir) if spool_dir else None
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint or None,
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            region_name=self.region,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
            ),
        )
        self._bucket_ready = False

    def _call(self, name: str, key: str | None = None, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        self._ensure_bucket()
        try:
            return getattr(self.client, name)(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound") and key is not None:
                raise missing(key) from None
            raise unavailable(exc) from exc
        except BotoCoreError as exc:
            raise unavailable(exc) from exc

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code")) not in ("404", "NoSuchBucket"):
                    raise
                extra = {}
                if self.region != "us-east-1":
                    extra["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
                with contextlib.suppress(self.client.exceptions.BucketAlreadyOwnedByYou):
                    self.client.create_bucket(Bucket=self.bucket, **extra)
        except (BotoCoreError, ClientError) as exc:
            raise unavailable(exc) from exc
        self._bucket_ready = True

    def put(self, key: str, source: bytes | IO[bytes], max_bytes: int | None = None) -> Ref:
        check_key(key)
        tally = Tally(max_bytes)
        with tempfile.SpooledTemporaryFile(max_size=CHUNK, dir=self.spool_dir) as spool:
            for block in chunks(source):
                spool.write(tally.add(block))
            spool.seek(0)
            ref = tally.ref(key)
            self._call(
                "put_object",
                Key=key,
                Body=spool,
                ContentLength=ref["size"],
                Metadata={"sha256": ref["sha256"]},
            )
        return ref

    def stat(self, key: str) -> Ref:
        head = self._call("head_object", key, Key=check_key(key))
        return {
            "key": key,
            "size": int(head["ContentLength"]),
            "sha256": (head.get("Metadata") or {}).get("sha256"),
        }

    def _raw_chunks(self, key: str) -> Iterator[bytes]:
        body = self._call("get_object", key, Key=key)["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def move(self, ref: Ref, key: str) -> Ref:
        check_key(key)
        found = self.stat(ref["key"])
        if ref.get("size") is not None and found["size"] != ref["size"]:
            raise checksum_mismatch(ref["key"])
        self._call(
            "copy_object",
            ref["key"],
            Key=key,
            CopySource={"Bucket": self.bucket, "Key": ref["key"]},
            MetadataDirective="COPY",
        )
        self.delete(ref["key"])
        return {**ref, "key": key}

    def delete(self, key: str) -> None:
        self._call("delete_object", Key=check_key(key))

    def keys(self, prefix: str) -> Iterator[tuple[str, float]]:
        self._ensure_bucket()
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        for page in pages:
            for obj in page.get("Contents", []):
                yield obj["Key"], obj["LastModified"].timestamp()

    @contextlib.contextmanager
    def local_path(self, ref: Ref) -> Iterator[Path]:
        fd, name = tempfile.mkstemp(prefix=".filestore-", dir=self.spool_dir)
        try:
            with os.fdopen(fd, "wb") as fh:
                for block in self.iter_chunks(ref):
                    fh.write(block)
            yield Path(name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
