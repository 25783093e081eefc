"""A token bucket in messages per second, shared by every worker through Redis.

Without `REDIS_URL` the bucket lives in this process (one per key), which is right for a
single worker. `acquire` blocks until a token is free, so callers just call it before each
message. While Redis is away it waits for it (up to `REDIS_WAIT_SECONDS`) rather than fail
the batch: the shared rate holds, and sending resumes the moment Redis answers.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import cache

import redis
from flask import current_app

log = logging.getLogger(__name__)
REDIS_WAIT_SECONDS = 120.0

# KEYS[1] bucket; ARGV: rate/s, burst, now (s). Returns seconds to wait (0: token taken).
_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return tostring(wait)
"""

_local_buckets: dict[str, tuple[float, float]] = {}
_local_lock = threading.Lock()


@cache
def _redis_script(url: str):
    client = redis.Redis.from_url(url, socket_timeout=5)
    return client, client.register_script(_LUA)


def _take_local(key: str, rate: float, burst: float, now: float) -> float:
    with _local_lock:
        tokens, at = _local_buckets.get(key, (burst, now))
        tokens = min(burst, tokens + max(0.0, now - at) * rate)
        if tokens >= 1:
            _local_buckets[key] = (tokens - 1, now)
            return 0.0
        _local_buckets[key] = (tokens, now)
        return (1 - tokens) / rate


def try_acquire(key: str, rate: float) -> float:
    """Take one token from bucket `key` if there is one; else return seconds to wait."""
    burst = max(1.0, rate)
    now = time.time()
    url = current_app.config.get("REDIS_URL")
    if not url:
        return _take_local(key, rate, burst, now)
    client, script = _redis_script(url)
    return float(script(keys=[f"nl:send-rate:{key}"], args=[rate, burst, now], client=client))


def acquire(key: str, rate: float | None) -> None:
    """Block until bucket `key` (refilled at `rate` tokens/s) yields a token; no-op if rate<=0."""
    if not rate or rate <= 0:
        return
    away_since = None
    while True:
        try:
            wait = try_acquire(key, rate)
        except redis.RedisError as error:  # Redis away: hand nothing over until it is back
            now = time.monotonic()
            if away_since is None:
                away_since = now
                log.warning("send rate limit: Redis is away (%s); waiting for it", error)
            elif now - away_since > REDIS_WAIT_SECONDS:
                raise
            time.sleep(0.25)
            continue
        if wait <= 0:
            return
        time.sleep(min(wait, 1.0))
