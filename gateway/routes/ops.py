import logging

import eventlet

from services.common import parked
from services.common.errors import DomainError, forbidden, not_found
from services.common.logredact import escape_controls

from .. import schemas as s
from ..routing import Routes

api = Routes("operations")

log = logging.getLogger("gateway")


def parked_total(amqp_uri, timeout):
    """Parked events over every consumer, or None when the broker does not
    answer within `timeout`."""
    try:
        with eventlet.Timeout(timeout):
            return sum(parked.counts(amqp_uri).values())
    except (Exception, eventlet.Timeout) as exc:
        log.warning("could not count parked events: %s", type(exc).__name__)
        return None


@api.get("/health", auth=False, response=s.Health, errors=(503,))
def health(ctx):
    """Gateway up, each service answering RPC within a deadline, and how many events are parked"""
    settings = ctx.app.settings

    def probe(service):
        try:
            ctx.app.bus.call(service, "health", timeout=settings.health_timeout)
            return service, "ok"
        except Exception:
            return service, "down"

    pool = eventlet.GreenPool(len(settings.services) + 1)
    count = pool.spawn(parked_total, settings.amqp_uri, settings.health_timeout)
    results = dict(pool.imap(probe, settings.services))
    down = sorted(name for name, state in results.items() if state != "ok")
    body = {
        "status": "ok" if not down else "degraded",
        "gateway": "ok",
        "services": results,
        "parked": count.wait(),
    }
    if down:
        body["down"] = down
    return body, 200 if not down else 503


@api.get("/openapi.json", auth=False, errors=())
def openapi(ctx):
    """This API as OpenAPI 3.1"""
    return ctx.app.openapi()


# --- parked events (platform helpdesk only; docs/operations.md) ------------------------


def _operator(ctx):
    if not ctx.is_helpdesk:
        raise forbidden()


def _broker(ctx, action, *args):
    try:
        with eventlet.Timeout(ctx.app.settings.rpc_timeout):
            return action(ctx.app.settings.amqp_uri, *args)
    except parked.UnknownConsumer:
        raise not_found("consumer", "Deze verwerker (consumer) bestaat niet.") from None
    except (Exception, eventlet.Timeout) as exc:
        log.warning("parked events: the broker did not answer (%s)", type(exc).__name__)
        raise DomainError(
            "service_unavailable",
            "De berichtenbus antwoordt niet. Probeer het later opnieuw.",
            status=503,
        ) from None


@api.get(
    "/ops/parked", query=s.ParkedQuery, response=s.ParkedList, errors=(400, 401, 403, 404, 503)
)
def list_parked(ctx):
    """Parked events per consumer (platform helpdesk)"""
    _operator(ctx)
    consumer = ctx.query.get("consumer", "all")
    counts = _broker(ctx, parked.counts, consumer)
    items = (
        _broker(ctx, parked.list_parked, consumer, ctx.query.get("limit", 100))
        if any(counts.values())
        else []
    )
    return {
        "counts": {parked.short_name(q): n for q, n in counts.items()},
        "total": sum(counts.values()),
        "items": items,
    }


@api.post(
    "/ops/parked/<consumer>/replay",
    query=s.ParkedEventQuery,
    response=s.ParkedResult,
    errors=(400, 401, 403, 404, 503),
)
def replay_parked(ctx, consumer):
    """Put parked events back on their consumer's queue (all, or one event_id; consumer 'all'
    for every consumer)"""
    _operator(ctx)
    count = _broker(ctx, parked.replay, consumer, ctx.query.get("event_id"))
    log.info(
        "helpdesk %s replayed %d parked event(s) of %s",
        ctx.actor["code"],
        count,
        escape_controls(consumer),
    )
    return {"consumer": consumer, "count": count}


@api.delete(
    "/ops/parked/<consumer>",
    query=s.ParkedEventQuery,
    response=s.ParkedResult,
    errors=(400, 401, 403, 404, 503),
)
def drop_parked(ctx, consumer):
    """Delete parked events (all, or one event_id)"""
    _operator(ctx)
    count = _broker(ctx, parked.drop, consumer, ctx.query.get("event_id"))
    log.info(
        "helpdesk %s dropped %d parked event(s) of %s",
        ctx.actor["code"],
        count,
        escape_controls(consumer),
    )
    return {"consumer": consumer, "count": count}
