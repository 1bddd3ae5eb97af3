"""`segmentql store status` and `segmentql store stop` on an embedded store of their own."""

from __future__ import annotations

import asyncio

from store import embedded


def test_status_and_stop_of_an_idle_store(offline, tmp_path, monkeypatch):
    assert offline("store", "status", "--data-dir", str(tmp_path)).stdout == "not running\n"
    assert offline("store", "stop", "--data-dir", str(tmp_path)).stdout == \
        "the embedded store is not running\n"
    monkeypatch.setenv(embedded.IDLE_ENV, "300")
    lease = asyncio.run(embedded.acquire(tmp_path))
    try:
        status = offline("store", "status", "--data-dir", str(tmp_path)).stdout
        assert status.startswith(f"running: pid {lease.server.pid}, port {lease.server.port}, "
                                 "in use") and "after 300 s idle" in status
        refused = offline("store", "stop", "--data-dir", str(tmp_path))
        assert refused.exit_code == 2 and "in use" in refused.stderr
        lease.release()
        assert "idle for" in offline("store", "status", "--data-dir", str(tmp_path)).stdout
        stopped = offline("store", "stop", "--data-dir", str(tmp_path))
        assert stopped.exit_code == 0
        assert stopped.stdout == f"stopped the embedded store (pid {lease.server.pid})\n"
        assert not embedded.process_alive(lease.server.pid)
    finally:
        lease.release()
        embedded.stop(tmp_path)
