"""A logging filter that keeps BSNs and onderwijsnummers out of every log.

Code never logs them on purpose, but an unexpected database error can carry
one: PostgreSQL's own message says `Key (bsn)=(020355889) already exists`, and
nameko logs such an error with its traceback. This filter, installed on the
handlers of every process (deploy/config.yaml, gateway/__main__.py), masks
every run of 8 to 10 digits in the message and the formatted traceback.

It also keeps every message on one line: control characters in a message
(a `%0A` in a URL path, decoded into the access log) are escaped (`\\n`), so
no value can write a forged line into a log. Tracebacks keep their lines.
"""

import logging
import re

_NUMBER = re.compile(r"(?<!\d)\d{8,10}(?!\d)")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def redact(text):
    return _NUMBER.sub(lambda m: "*" * len(m.group()), text)


def _escape_one(match):
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def escape_controls(text):
    """`text` on one line: control characters as \\n, \\r, \\x1b, \\u2028."""
    return _CONTROL.sub(_escape_one, text)


class RedactFilter(logging.Filter):
    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the formatter
            return True
        record.msg, record.args = escape_controls(redact(message)), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install(logger=None):
    """Put the filter on every handler of `logger` (default: the root logger)."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if not any(isinstance(f, RedactFilter) for f in handler.filters):
            handler.addFilter(RedactFilter())
