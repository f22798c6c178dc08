"""services/common/gctune.py: start-up's objects frozen out of the collector's way,
once per process, unless LEERLINGBUS_GC_FREEZE is off."""
from services.common import gctune


def test_settle_collects_and_freezes_once_and_can_be_turned_off(monkeypatch):
    calls = []
    monkeypatch.delenv("LEERLINGBUS_GC_FREEZE", raising=False)
    monkeypatch.setattr(gctune, "_settled", False)
    monkeypatch.setattr(gctune.gc, "collect", lambda *args: calls.append("collect") or 0)
    monkeypatch.setattr(gctune.gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gctune.gc, "get_threshold", lambda: (700, 10, 10))
    monkeypatch.setattr(gctune.gc, "set_threshold",
                        lambda *args: calls.append(("threshold", *args)))
    assert gctune.settle({"LEERLINGBUS_GC_FREEZE": "off"}) is False
    monkeypatch.setenv("LEERLINGBUS_GC_FREEZE", "0")
    assert gctune.settle() is False
    assert calls == []
    monkeypatch.delenv("LEERLINGBUS_GC_FREEZE")
    settled = ["collect", "freeze", ("threshold", gctune.GEN0_THRESHOLD, 10, 10)]
    assert gctune.settle() is True
    assert calls == settled
    assert gctune.settle() is False  # once per process
    assert calls == settled
