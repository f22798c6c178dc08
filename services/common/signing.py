"""Signing keys: a process that signs tokens or cookies refuses to start with
a key anybody could know.

A placeholder from the manifests or examples, or a key shorter than 32 bytes,
lets anyone who read them forge a token. Generate a key instead:

    openssl rand -hex 32
"""

MIN_BYTES = 32
GENERATE = "openssl rand -hex 32"

# Every placeholder this repository ever shipped (deploy/k8s/secret.yaml,
# deploy/.env.example, docs) and the obvious others.
PLACEHOLDERS = frozenset(
    {
        "change-me-to-a-long-random-string",
        "change-me-to-another-long-random-string",
        "generate-with-openssl-rand-hex-32",
        "change-me",
        "changeme",
        "change-me-too",
        "secret",
        "secret-key",
        "please-change-me",
    }
)


class InsecureKeyError(RuntimeError):
    pass


def check_key(key, name):
    """`key` as given, or InsecureKeyError naming `name` and what to do."""
    if not isinstance(key, str) or not key.strip():
        raise InsecureKeyError(f"{name} is empty; generate one: {GENERATE}")
    if (
        key.strip().lower() in PLACEHOLDERS
        or "change-me" in key.lower()
        or "openssl-rand" in key.lower()
    ):
        raise InsecureKeyError(
            f"{name} is a published placeholder: anyone can forge a "
            f"token with it. Generate one: {GENERATE}"
        )
    if len(key.encode("utf-8")) < MIN_BYTES:
        raise InsecureKeyError(
            f"{name} is shorter than {MIN_BYTES} bytes; generate one: {GENERATE}"
        )
    return key
