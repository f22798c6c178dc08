"""Files through the gateway by reference: an upload is streamed into the
shared file store (services/common/filestore.py) and the RPC carries its
reference {key, size, sha256}; a file a service answers with a reference is
streamed back from the store (and deleted when it was handed out for it). No
file travels base64-encoded in a message."""

from typing import Any

from werkzeug.wrappers import Response

from services.common.filestore import OUTGOING, FileStore


def receive(ctx: Any, name: str = "file") -> tuple[str, dict[str, Any]]:
    """(filename, reference) of the multipart file `name`, streamed into the
    store under incoming/ (werkzeug spooled it to disk past 500 kB; the route's
    byte limit holds while copying)."""
    upload = ctx.files[name]
    files: FileStore = ctx.app.files
    limit = int(ctx.setting(ctx.route.max_body or "max_upload_bytes"))
    return upload.filename, files.put(files.new_key(), upload.stream, max_bytes=limit)


def call_with_file(ctx: Any, ref: dict[str, Any], service: str, method: str, *args, **kwargs):
    """`ctx.call` with a file reference among its arguments. The service adopts
    or deletes the incoming file; when the call fails here (timeout, service
    down) the gateway deletes it, and what is left is swept (uploads service)."""
    try:
        return ctx.call(service, method, *args, **kwargs)
    except Exception:
        ctx.app.files.delete(ref["key"])
        raise


def stream(
    files: FileStore, ref: dict[str, Any], content_type: str, headers: dict[str, str]
) -> Response:
    """A download of a stored file, streamed in chunks with its length; the
    checksum is verified as it goes (a mismatch breaks the transfer off). A
    file the service handed out for this answer (outgoing/) is deleted after."""

    def body():
        try:
            yield from files.iter_chunks(ref)
        finally:
            if ref["key"].startswith(OUTGOING + "/"):
                files.delete(ref["key"])

    return Response(
        body(),
        content_type=content_type,
        direct_passthrough=True,
        headers={**headers, "Content-Length": str(ref["size"])},
    )
