"""The language's worker processes (store/offload.py) do not outlive the process that made
them, even when it is killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from store.embedded import process_alive

MAKES_WORKERS = textwrap.dedent("""
    import multiprocessing, time
    from store import offload

    offload.warm_up()
    deadline = time.monotonic() + 60
    while len(multiprocessing.active_children()) < offload.WORKERS and \\
            time.monotonic() < deadline:
        time.sleep(0.1)
    print(" ".join(str(child.pid) for child in multiprocessing.active_children()), flush=True)
    time.sleep(120)
""")


def test_workers_exit_when_their_server_is_killed() -> None:
    server = subprocess.Popen([sys.executable, "-c", MAKES_WORKERS], stdout=subprocess.PIPE,
                              text=True, cwd=os.getcwd())
    try:
        workers = [int(pid) for pid in server.stdout.readline().split()]
        assert workers and all(process_alive(pid) for pid in workers)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(10)
    deadline = time.monotonic() + 30
    while any(process_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in workers if process_alive(pid)]
    for pid in left:  # do not leave them behind for the rest of the run
        os.kill(pid, signal.SIGKILL)
    assert not left, f"workers {left} outlived their killed server"
