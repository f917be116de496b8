"""The Lua scripts of the Redis backend: each is one atomic decision across replicas.

Stamps (fences, invalidations) are Redis `TIME` in microseconds, forced strictly increasing
through a clock key, so replicas' clocks never order anything. Running windows are Redis-time
milliseconds in a sorted set of holder tokens. Returned numbers stay below 2^53 (exact in Lua).
"""

from __future__ import annotations

STAMP = """
local function stamp(clock_key)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local last = tonumber(redis.call('GET', clock_key) or '0')
  if now <= last then now = last + 1 end
  redis.call('SET', clock_key, string.format('%.0f', now))
  return now
end
"""
RUNNERS = """
local function runners_now(running_key)
  local t = redis.call('TIME')
  local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZREMRANGEBYSCORE', running_key, '-inf', now_ms)
  return now_ms
end
"""
# KEYS: lease, clock, running. ARGV: token, ttl_ms, window_ms, max_running.
# Returns the fence, or false when held or when too many computations still run.
LEASE = (
    STAMP
    + RUNNERS
    + """
local now_ms = runners_now(KEYS[3])
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[4]) then return false end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
redis.call('ZADD', KEYS[3], now_ms + tonumber(ARGV[3]), ARGV[1])
if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[3], ARGV[3]) end
return stamp(KEYS[2])
"""
)
# KEYS: lease, running. ARGV: token, ttl_ms, window_ms. 1 held, 2 regained, 0 lost.
EXTEND = (
    RUNNERS
    + """
local cur = redis.call('GET', KEYS[1])
local state = 0
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  state = 1
elseif not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  state = 2
end
if state > 0 then
  local now_ms = runners_now(KEYS[2])
  redis.call('ZADD', KEYS[2], now_ms + tonumber(ARGV[3]), ARGV[1])
  if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
end
return state
"""
)
# KEYS: lease, entry, backoff, failures. ARGV: token, fence, payload, times, ttl_ms, channel.
STORE = """
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return 0 end
local have = redis.call('HGET', KEYS[2], 'f')
if have and tonumber(have) > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[2], 'p', ARGV[3], 'f', ARGV[2], 't', ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('DEL', KEYS[3], KEYS[4])
redis.call('PUBLISH', ARGV[6], 'stored')
return 1
"""
# KEYS: lease, running. ARGV: token, channel.
RELEASE = """
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('PUBLISH', ARGV[2], 'released')
return 1
"""
# KEYS: invalidated, clock. ARGV: retain_ms.
INVALIDATE = (
    STAMP
    + """
local s = stamp(KEYS[2])
redis.call('SET', KEYS[1], string.format('%.0f', s), 'PX', ARGV[1])
return s
"""
)
# KEYS: backoff, failures. ARGV: base_ms, cap_ms. Returns the delay in ms.
FAILURE = """
local n = redis.call('INCR', KEYS[2])
local delay = math.min(tonumber(ARGV[1]) * 2 ^ (n - 1), tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[2], string.format('%.0f', 2 * delay + tonumber(ARGV[1])))
redis.call('SET', KEYS[1], n, 'PX', string.format('%.0f', delay))
return string.format('%.0f', delay)
"""
