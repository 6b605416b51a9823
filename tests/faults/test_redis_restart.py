"""Redis restarted under a stream of mail: the sweep re-enqueues lost jobs, each done once.

A private ``redis-server`` without persistence (never the machine's shared one on 6379) carries
the jobs from a real ``commgate serve`` front end to a separate ``commgate worker``. Restarting it
throws away every queued job; the database still says which stored messages await processing,
and the sweep sends them again (after ``sweep_stale_after``, shortened here to a few seconds).
Every message that got ``250`` ends processed exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.support import (
    Gateway,
    PrivateRedis,
    Stream,
    assert_processed_exactly_once,
    gateway_in,
    states,
    wait_until,
)

SWEEP_WAIT = 120.0  # generous: the sweep re-enqueues a job older than 5 s (support.py)


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def gateway(tmp_path: Path, redis: PrivateRedis) -> Iterator[Gateway]:
    with gateway_in(tmp_path, COMMGATE_BROKER_URL=redis.url) as gw:
        yield gw


@pytest.mark.slow
def test_jobs_lost_in_a_redis_restart_are_swept_back_and_run_once(
        gateway: Gateway, redis: PrivateRedis) -> None:
    # Given a front end whose jobs pile up in Redis while no worker runs
    gateway.serve()
    first = Stream(gateway.port, 60).start()
    first.join()
    wait_until(lambda: len(states(gateway.database_url)) >= 60, timeout=60,
               what="60 messages stored")
    # When Redis restarts (no persistence: the 60 queued jobs are gone) and a worker starts
    redis.stop()
    redis.start()
    gateway.spawn("worker", "worker")
    # And mail keeps coming after the restart, with a worker killed and started mid-stream
    second = Stream(gateway.port, 60, pause=0.02).start()
    wait_until(lambda: len(second.acked) >= 20, timeout=90, what="20 more acknowledged")
    gateway.procs["worker"].kill()
    gateway.procs["worker"].wait(timeout=10)
    gateway.spawn("worker", "worker")
    second.join()
    # Then every acknowledged message is stored and processed exactly once
    assert first.tempfails == {} and second.tempfails == {}
    assert_processed_exactly_once(gateway.database_url, first.acked + second.acked,
                                  timeout=SWEEP_WAIT,
                                  log=lambda: gateway.log() + gateway.log("worker"))


@pytest.mark.slow
def test_a_redis_outage_mid_stream_is_never_a_permanent_refusal(
        gateway: Gateway, redis: PrivateRedis) -> None:
    # Given a front end, a separate worker and a client streaming 120 directives
    gateway.serve()
    gateway.spawn("worker", "worker")
    stream = Stream(gateway.port, 120, pause=0.02).start()
    wait_until(lambda: len(stream.acked) >= 30, timeout=90, what="30 messages acknowledged")
    # When Redis goes away while messages arrive, and comes back
    redis.stop()
    wait_until(lambda: stream.tempfails or stream.errors or len(stream.acked) >= 40,
               timeout=60, what="messages sent while Redis is down")
    time.sleep(1)
    redis.start()
    # Then the client was never refused for good (250 or 4xx only)
    stream.join()
    assert len(stream.acked) == 120
    # And every acknowledged message is stored and processed exactly once
    assert_processed_exactly_once(gateway.database_url, stream.acked, timeout=SWEEP_WAIT,
                                  log=lambda: gateway.log() + gateway.log("worker"))
