"""services/common/gctune.py: start-up's objects frozen out of the collector's way,
once per process, unless LEERLINGBUS_GC_FREEZE is off."""
from services.common import gctune


def test_settle_collects_and_freezes_once_and_can_be_turned_off(monkeypatch):
    calls = []
    monkeypatch.delenv("LEERLINGBUS_GC_FREEZE", raising=False)
    monkeypatch.setattr(gctune, "_settled", False)
    monkeypatch.setattr(gctune.gc, "collect", lambda *args: calls.append("collect") or 0)
    monkeypatch.setattr(gctune.gc, "freeze", lambda: calls.append("freeze"))
    assert gctune.settle({"LEERLINGBUS_GC_FREEZE": "off"}) is False
    monkeypatch.setenv("LEERLINGBUS_GC_FREEZE", "0")
    assert gctune.settle() is False
    assert calls == []
    monkeypatch.delenv("LEERLINGBUS_GC_FREEZE")
    assert gctune.settle() is True
    assert calls == ["collect", "freeze"]
    assert gctune.settle() is False  # once per process
    assert calls == ["collect", "freeze"]
