"""The Lua script that decides every descriptor of a request in one Redis round trip.

KEYS[i] is a counter key without its window index; ARGV holds, per key, four numbers: window
(seconds), ceiling (requests + burst), hits, shadow (0/1). Time is Redis `TIME`, never the
caller's clock. Every descriptor is checked before any is counted: when a non-shadow one
refuses, nothing is counted, so a refused request uses no other policy's quota. A shadow
descriptor never refuses the request; it is counted only when it would itself have admitted,
so its counter shows what enforcing it would do.

Sliding-window counter: estimate = previous window x (1 - elapsed fraction) + current window.
Per key the script answers four integers: fits (1/0: this counter alone would admit), remaining,
milliseconds until the current window ends, and until the same hits could fit (0 when they fit).
"""

import hashlib

SOURCE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local checks = {}
local admit = true
for i = 1, #KEYS do
  local base = (i - 1) * 4
  local window = tonumber(ARGV[base + 1])
  local ceiling = tonumber(ARGV[base + 2])
  local hits = tonumber(ARGV[base + 3])
  local shadow = ARGV[base + 4] == '1'
  local index = math.floor(now / window)
  local elapsed = now - index * window
  local current_key = KEYS[i] .. ':' .. string.format('%d', index)
  local previous_key = KEYS[i] .. ':' .. string.format('%d', index - 1)
  local previous = tonumber(redis.call('GET', previous_key) or 0)
  local current = tonumber(redis.call('GET', current_key) or 0)
  local estimate = previous * (1 - elapsed / window) + current
  local ok = estimate + hits <= ceiling
  if not ok and not shadow then
    admit = false
  end
  checks[i] = {current_key, window, ceiling, hits, ok, estimate, elapsed, previous, current}
end
local results = {}
for i, c in ipairs(checks) do
  local key, window, ceiling, hits, ok = c[1], c[2], c[3], c[4], c[5]
  local estimate, elapsed, previous, current = c[6], c[7], c[8], c[9]
  local counted = admit and ok
  if counted then
    redis.call('INCRBY', key, hits)
    redis.call('PEXPIRE', key, window * 2000)
    estimate = estimate + hits
  end
  local reset_ms = (window - elapsed) * 1000
  local retry_ms = 0
  if not ok then
    -- When would these hits fit? Within this window if the previous window's share decays
    -- enough; otherwise after it, once this window's count has decayed in turn (never, for
    -- more hits than the ceiling: then one window from its end).
    local room = ceiling - hits - current
    if room >= 0 then
      retry_ms = math.max(0, window * (1 - room / previous) - elapsed) * 1000
    else
      local share = 1
      if current > 0 and ceiling >= hits then
        share = math.max(0, 1 - (ceiling - hits) / current)
      end
      retry_ms = reset_ms + window * share * 1000
    end
  end
  results[i] = {ok and 1 or 0, math.max(0, math.floor(ceiling - estimate)),
                math.ceil(reset_ms), math.ceil(retry_ms)}
end
return results
"""

SHA = hashlib.sha1(SOURCE.encode()).hexdigest()  # noqa: S324 - the name Redis gives a script
