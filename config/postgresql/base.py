"""Django's PostgreSQL backend, whose per-request connection health check costs no round trip.

With CONN_HEALTH_CHECKS, Django runs `SELECT 1` on a persistent connection before its first use
in each request: one more round trip per request, a seventh of the labeling hot path's
statements (issue 14). When PostgreSQL restarts or ends a backend it sends an error and closes
the socket, so an idle connection with nothing to read is alive: that is checked locally (a
non-blocking poll of the socket); only when something arrived (or the connection is not idle)
does Django's `SELECT 1` decide. After an error in a request Django still checks with `SELECT 1`.
"""

from __future__ import annotations

import select
from typing import Any

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


def _quiet(connection: Any) -> bool:
    """An open, idle connection on which the server has sent nothing."""
    if connection.closed or connection.broken or not hasattr(select, "poll"):
        return False
    if connection.info.transaction_status != TransactionStatus.IDLE:
        return False
    poller = select.poll()
    poller.register(connection.fileno(), select.POLLIN)
    return not poller.poll(0)


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and _quiet(self.connection)
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
