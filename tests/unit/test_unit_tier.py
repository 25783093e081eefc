"""The unit tier's own promise: a test on `unit_app` cannot reach a server unnoticed."""

from __future__ import annotations

import socket

import pytest

from tests.unit.conftest import NetworkUsed


def test_a_network_connection_from_a_unit_test_fails_it(unit_app):
    with pytest.raises(NetworkUsed), socket.create_connection(("127.0.0.1", 6379), timeout=1):
        pass
