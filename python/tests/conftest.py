"""Fixtures: the built-in simulator in this process on a free 127.0.0.1 port."""

import socket

import pytest

import structflow


@pytest.fixture(scope="module")
def sim():
    with structflow.Sim(latency_ms=0) as s:
        yield s


@pytest.fixture(scope="module")
def slow_sim():
    # 20 ms per request and 4 slots: a 400-row job takes about 2 s, long enough to stop it.
    with structflow.Sim(latency_ms=20, max_num_seqs=4) as s:
        yield s


@pytest.fixture
def dead_endpoint():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/v1"
