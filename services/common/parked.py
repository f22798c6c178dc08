"""Parked events: list, replay or drop them (docs/operations.md).

    python -m services.common.parked list   [CONSUMER|all]
    python -m services.common.parked replay CONSUMER|all [--event-id ID]
    python -m services.common.parked drop   CONSUMER|all [--event-id ID]

CONSUMER is a queue name (`evt-users-user_archived--students.on_user_archived`)
or its short form `students.on_user_archived`. The broker is AMQP_URI. The
gateway's ops routes (gateway/routes/ops.py) call the same functions.

A listing shows the envelope's event_id, type and institution_id and the
error, never the event's data (it may hold personal data). Replay puts a
message back on its consumer's queue with a fresh attempt count.
"""

import argparse
import contextlib
import importlib
import json
import sys

from kombu import Connection, Producer, Queue

from . import config as cfg
from .durable import ATTEMPTS, ERROR, ERROR_TYPE, ORIGIN, PARKED_AT, consumers

SUFFIX = ".parked"
# How many parked messages one call looks at, at most.
MAX_BATCH = 10000


class UnknownConsumer(LookupError):
    pass


_CONSUMERS = None


def all_consumers():
    """Every durable consumer queue of every service (cached)."""
    global _CONSUMERS
    if _CONSUMERS is None:
        found: list = []
        for service in cfg.SERVICES:
            module = importlib.import_module(f"services.{service}.service")
            for value in vars(module).values():
                if (
                    isinstance(value, type)
                    and value.__module__ == module.__name__
                    and getattr(value, "name", None) == service
                ):
                    found.extend(name for name, _source, _type in consumers(value))
        _CONSUMERS = sorted(set(found))
    return list(_CONSUMERS)


def short_name(queue):
    return queue.rpartition("--")[2]


def resolve(name):
    """The consumer queues `name` means ("all", a queue, a short name)."""
    if name in (None, "", "all"):
        return all_consumers()
    name = name.removesuffix(SUFFIX)
    if name.startswith("evt-") and "--" in name and len(name) <= 255:
        return [name]  # a queue named in full (also one of a service not listed here)
    hits = [q for q in all_consumers() if short_name(q) == name]
    if not hits:
        raise UnknownConsumer(name)
    return hits


def _connect(amqp_uri):
    conn = Connection(
        amqp_uri or cfg.amqp_uri(), connect_timeout=5, transport_options={"confirm_publish": True}
    )
    conn.ensure_connection(max_retries=2)
    return conn


def _depth(conn, name):
    channel = conn.channel()
    try:
        _name, count, _consumers = channel.queue_declare(name, passive=True)
        return count
    except conn.channel_errors:  # 404: nothing was ever parked here
        return 0
    finally:
        with contextlib.suppress(Exception):
            channel.close()


def counts(amqp_uri=None, consumer="all"):
    """{consumer queue: parked messages}."""
    queues = resolve(consumer)
    with _connect(amqp_uri) as conn:
        return {q: _depth(conn, q + SUFFIX) for q in queues}


def _describe(queue, message):
    headers = message.headers or {}
    try:
        body = json.loads(message.body)
    except (ValueError, TypeError):
        body = None
    envelope = body if isinstance(body, dict) else {}

    def plain(key, kinds):
        value = envelope.get(key)
        return value if isinstance(value, kinds) and not isinstance(value, bool) else None

    event_id = plain("event_id", str)
    return {
        "consumer": queue,
        "event_id": event_id[:64] if event_id else None,
        "type": (plain("type", str) or "")[:80] or None,
        "institution_id": plain("institution_id", int),
        "error_type": headers.get(ERROR_TYPE),
        "error": headers.get(ERROR),
        "attempts": headers.get(ATTEMPTS),
        "parked_at": headers.get(PARKED_AT),
    }


def _walk(conn, queue, visit):
    """Take the messages of queue.parked present now, without ack, and
    visit(channel, message) each (it acks what it handles); the rest go back
    when the channel closes, in their order. Only those present at the start:
    a replayed message parked again meanwhile waits for the next call."""
    channel = conn.channel()
    try:
        parked = Queue(queue + SUFFIX, channel=channel, durable=True)
        present = _depth(conn, parked.name)
        for _ in range(min(present, MAX_BATCH)):
            message = parked.get(no_ack=False)
            if message is None:
                return
            visit(channel, message)
    finally:
        channel.close()


def list_parked(amqp_uri=None, consumer="all", limit=100):
    items: list[dict] = []
    with _connect(amqp_uri) as conn:
        for queue in resolve(consumer):

            def visit(_channel, message, queue=queue):
                if len(items) < limit:
                    items.append(_describe(queue, message))

            _walk(conn, queue, visit)
    return items


def _matches(queue, message, event_id):
    return event_id is None or _describe(queue, message)["event_id"] == event_id


def replay(amqp_uri=None, consumer="all", event_id=None):
    """Put parked messages (all, or the one with `event_id`) back on their
    consumer's queue; returns how many."""
    done = 0
    with _connect(amqp_uri) as conn:
        for queue in resolve(consumer):

            def visit(channel, message, queue=queue):
                nonlocal done
                if not _matches(queue, message, event_id):
                    return
                headers = {
                    k: v
                    for k, v in (message.headers or {}).items()
                    if k not in (ATTEMPTS, ERROR, ERROR_TYPE, PARKED_AT, ORIGIN, "x-death")
                }
                Producer(channel).publish(
                    message.body,
                    exchange="",
                    routing_key=queue,
                    headers=headers,
                    content_type=message.content_type,
                    content_encoding=message.content_encoding,
                    delivery_mode=2,
                )
                message.ack()
                done += 1

            _walk(conn, queue, visit)
    return done


def drop(amqp_uri=None, consumer="all", event_id=None):
    """Delete parked messages (all, or the one with `event_id`); returns how many."""
    done = 0
    with _connect(amqp_uri) as conn:
        for queue in resolve(consumer):

            def visit(_channel, message, queue=queue):
                nonlocal done
                if _matches(queue, message, event_id):
                    message.ack()
                    done += 1

            _walk(conn, queue, visit)
    return done


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m services.common.parked", description="List, replay or drop parked events."
    )
    parser.add_argument("action", choices=("list", "count", "replay", "drop"))
    parser.add_argument(
        "consumer",
        nargs="?",
        default="all",
        help="queue, short name (students.on_user_archived) or 'all'",
    )
    parser.add_argument("--event-id", default=None)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--amqp-uri", default=None, help="default: AMQP_URI")
    args = parser.parse_args(argv)
    if (
        args.action in ("replay", "drop")
        and args.consumer == "all"
        and args.event_id is None
        and argv is None
        and sys.stdin.isatty()
    ):
        answer = input(f"{args.action} every parked event of every consumer? [y/N] ")
        if answer.strip().lower() not in ("y", "yes", "j", "ja"):
            return 1
    try:
        if args.action == "list":
            for item in list_parked(args.amqp_uri, args.consumer, args.limit):
                print(json.dumps(item, ensure_ascii=True))
        elif args.action == "count":
            for queue, count in counts(args.amqp_uri, args.consumer).items():
                print(f"{count}\t{short_name(queue)}")
        else:
            action = replay if args.action == "replay" else drop
            count = action(args.amqp_uri, args.consumer, args.event_id)
            print(f"{args.action}: {count} message(s)")
    except UnknownConsumer as exc:
        print(
            f"unknown consumer: {exc}; known: " + ", ".join(short_name(q) for q in all_consumers()),
            file=sys.stderr,
        )
        return 2
    except OSError as exc:
        print(f"the broker does not answer: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
