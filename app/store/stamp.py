"""Has the database changed? SQLite's ``PRAGMA data_version``, asked on a connection kept
for it alone: the number changes with every commit of any other connection (this room's
writer, another room's console) and reading it queries no table. The store's watches ask
it between their readings and read their rows only when it moved. No Qt.

Use one :class:`DataVersion` from one thread (the watch's own). Where there is no such
number (PostgreSQL) or it cannot be read, :meth:`DataVersion.read` gives None: then the
caller reads in full every time, as before.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)


class DataVersion:
    """See the module docstring."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Any = None

    def read(self) -> int | None:
        """The database's change number now (None: not known; read the rows)."""
        if self._engine.dialect.name != "sqlite":
            return None
        try:
            if self._conn is None:
                self._conn = self._engine.raw_connection()
            cur = self._conn.cursor()
            try:
                cur.execute("PRAGMA data_version")
                return int(cur.fetchone()[0])
            finally:
                cur.close()
        except Exception as exc:  # noqa: BLE001 - not known: the caller reads in full
            log.warning("records change number not read: %s", type(exc).__name__)
            self.close()
            return None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                log.debug("change-number connection not closed cleanly", exc_info=True)
