"""The Lua scripts over the layout of layout.py: each operation one atomic script, one round
trip. Time is Redis's own (`TIME`), in milliseconds, never a caller's clock.

A session's hash holds p (player id), r (roles, comma-separated), t (tier), c (created),
a (absolute expiry), i (idle timeout) and s (last seen). It lives while now < a and
now < s + i; its key outlives that by the kept time (layout.EXPIRED_KEPT_MS), so a late caller
hears "expired" rather than "unknown". Revoked records are deleted at once.
"""

_COMMON = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Integers as plain digits: Redis may format a Lua number argument with an exponent.
local function int(x)
  return string.format('%d', x)
end
local function live(now, absolute, idle, seen)
  return now < tonumber(absolute) and now < tonumber(seen) + tonumber(idle)
end
"""

# KEYS: session, player set. ARGV: hash, player, roles, tier, idle ms, absolute ms, kept ms,
# prefix. Also forgets the player's sessions whose records are gone. -> {now, absolute expiry}
CREATE = (
    _COMMON
    + """
local now = now_ms()
local idle, absolute, kept = tonumber(ARGV[5]), now + tonumber(ARGV[6]), tonumber(ARGV[7])
for _, member in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('EXISTS', ARGV[8] .. 's:' .. member) == 0 then
    redis.call('SREM', KEYS[2], member)
  end
end
redis.call('HSET', KEYS[1], 'p', ARGV[2], 'r', ARGV[3], 't', ARGV[4], 'c', int(now),
  'a', int(absolute), 'i', int(idle), 's', int(now))
redis.call('PEXPIRE', KEYS[1], int(math.min(idle, absolute - now) + kept))
redis.call('SADD', KEYS[2], ARGV[1])
if redis.call('PTTL', KEYS[2]) < absolute - now + kept then
  redis.call('PEXPIRE', KEYS[2], int(absolute - now + kept))
end
return {now, absolute}
"""
)

# KEYS: session. ARGV: kept ms. -> {0} unknown, {2} expired, {1, player, roles, tier} live,
# its idle expiry slid to now (never past its absolute expiry).
CHECK = (
    _COMMON
    + """
local s = redis.call('HMGET', KEYS[1], 'p', 'r', 't', 'a', 'i', 's')
if not s[1] then
  return {0}
end
local now = now_ms()
if not live(now, s[4], s[5], s[6]) then
  return {2}
end
local absolute, idle = tonumber(s[4]), tonumber(s[5])
redis.call('HSET', KEYS[1], 's', int(now))
redis.call('PEXPIRE', KEYS[1], int(math.min(idle, absolute - now) + tonumber(ARGV[1])))
return {1, s[1], s[2], s[3]}
"""
)

# KEYS: session. ARGV: prefix, hash. -> 1 revoked, 0 unknown.
REVOKE = """
local player = redis.call('HGET', KEYS[1], 'p')
if not player then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('SREM', ARGV[1] .. 'p:' .. player, ARGV[2])
return 1
"""

# KEYS: player set. ARGV: prefix. Deletes every session of the player. -> how many were live.
REVOKE_PLAYER = (
    _COMMON
    + """
local now = now_ms()
local revoked = 0
for _, member in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. 's:' .. member
  local s = redis.call('HMGET', key, 'a', 'i', 's')
  if s[1] and live(now, s[1], s[2], s[3]) then
    revoked = revoked + 1
  end
  redis.call('DEL', key)
end
redis.call('DEL', KEYS[1])
return revoked
"""
)

# KEYS: player set. ARGV: prefix. -> {hash, created, absolute, idle, seen, hash, ...} of
# the live sessions; forgets those whose records are gone.
LIST = (
    _COMMON
    + """
local now = now_ms()
local out = {}
for _, member in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local s = redis.call('HMGET', ARGV[1] .. 's:' .. member, 'c', 'a', 'i', 's')
  if not s[1] then
    redis.call('SREM', KEYS[1], member)
  elseif live(now, s[2], s[3], s[4]) then
    table.insert(out, member)
    for _, value in ipairs(s) do
      table.insert(out, value)
    end
  end
end
return out
"""
)
