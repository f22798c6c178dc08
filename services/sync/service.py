"""The sync service (skeleton: health and the outbox relay; its domain comes later).

    nameko run --config deploy/config.yaml services.sync.service
"""
from nameko.rpc import rpc
from nameko.timer import timer

from services.common.db import Database


class SyncService:
    name = "sync"

    db = Database("sync")

    @rpc
    def health(self):
        self.db.ping()
        return {"service": self.name, "status": "ok"}

    @timer(interval=2)
    def relay_outbox(self):
        self.db.relay_outbox()
