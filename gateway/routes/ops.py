import eventlet

from .. import schemas as s
from ..app import json_response
from ..routing import route


@route("GET", "/health", auth=False, response=s.Health, errors=(503,),
       summary="Gateway up, and each service answering RPC within a deadline", tag="operations")
def health(ctx):
    settings = ctx.app.settings

    def probe(service):
        try:
            ctx.app.bus.call(service, "health", timeout=settings.health_timeout)
            return service, "ok"
        except Exception:
            return service, "down"

    pool = eventlet.GreenPool(len(settings.services))
    results = dict(pool.imap(probe, settings.services))
    down = sorted(name for name, state in results.items() if state != "ok")
    body = {"status": "ok" if not down else "degraded", "gateway": "ok", "services": results}
    if down:
        body["down"] = down
    return json_response(body, 200 if not down else 503)


@route("GET", "/openapi.json", auth=False, summary="This API as OpenAPI 3.1", tag="operations",
       errors=())
def openapi(ctx):
    from ..openapi import spec_dict
    return spec_dict()
