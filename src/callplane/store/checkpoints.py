"""WAL checkpoints of the SQLite database on a thread of their own.

By default SQLite checkpoints inside the commit that grows the write-ahead log
past 1,000 pages: that commit copies the log into the database and ``fsync``\\ s
it, the only ``fsync`` under ``synchronous=NORMAL``. Under load that was a
record batch taking 0.2-1.4 s to commit while calls went on ending, so the next
batch held thousands of records and its statement work stalled the event loop
(``docs/benchmarks.md``, "The stalls"). Every connection therefore runs with
``wal_autocheckpoint=0`` (:mod:`callplane.store.sql`), and this thread runs a
``PASSIVE`` checkpoint every ``interval`` seconds: it never waits for the writer
or the readers, and commits never wait for it. Durability is unchanged: a
committed transaction is in the log, which survives the process.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger("callplane.store")

INTERVAL = 1.0


class WalCheckpointer:
    def __init__(self, path: str, interval: float = INTERVAL) -> None:
        self.path = path
        self.interval = interval
        self.copied = 0  # frames copied into the database so far
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="callplane-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (the last connection to close checkpoints what is left)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=0, check_same_thread=False)
        try:
            while not self._stop.wait(self.interval):
                self.checkpoint(conn)
        finally:
            conn.close()

    def checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[2]
        except sqlite3.Error as exc:  # locked for a moment: the next round tries again
            log.debug("WAL checkpoint did not run: %s", exc)
            return
        self.copied += max(copied, 0)
