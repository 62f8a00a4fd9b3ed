"""config.postgresql: the per-request health check polls the socket instead of a round trip, and
still replaces a connection that the server ended."""

import time

import pytest
from django.db import connection, connections

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'"),
]


def _health_check() -> None:
    connection.health_check_done = False
    connection.close_if_health_check_failed()


def test_a_quiet_connection_is_kept():
    connection.ensure_connection()
    assert connection.health_check_enabled
    kept = connection.connection
    _health_check()
    assert connection.connection is kept


def test_a_connection_the_server_ended_is_replaced():
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()
    time.sleep(0.3)  # the server's notice and end of stream reach the socket
    _health_check()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
