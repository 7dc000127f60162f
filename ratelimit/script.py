"""The Lua script that decides every descriptor of one or several requests in one round trip.

One call decides a batch of R requests (the store batches those that arrive together, see
ratelimit/store.py), one after the other, exactly as R calls in a row would: ARGV[1] is R,
ARGV[2 .. R + 1] the number of counters of each request, in order; KEYS are all their counter
keys, request after request; then ARGV holds, per key, five numbers: sub-windows per window
(S), sub-window length (ms), ceiling (requests + burst), hits, shadow (0/1). Time is Redis
`TIME`, read once per call, never the caller's clock. Within a request every descriptor is
checked before any is counted: when a non-shadow one refuses, nothing of that request is
counted, so a refused request uses no other policy's quota; a later request of the batch sees
what the earlier ones counted. A shadow descriptor never refuses the request; it is counted
only when it would itself have admitted, so its counter shows what enforcing it would do.

Sub-window counter. The window W is split into S sub-windows of w = W/S; a counter is one hash
whose fields are absolute sub-window indexes (Redis time / w) holding the hits counted in them.
A decision at time t sums the current sub-window and the S before it: they cover
(t - W - w, t], a superset of (t - W, t]. Hence the guarantee: over ANY span of length W, the
hits admitted never exceed the ceiling (the last admission in the span saw every earlier one),
including the first window of a flood that starts late in a window or just before an edge. The
price is under-admission: a client pacing exactly at the limit gets at least ceiling x S/(S+1)
per window (95 % for S = 20), since a sub-window's hits are kept until all of it has left.

S = 20 (w = 50 ms for a 1 s window, 3 s for a minute, 72 min for a day): the cost grows with
S, the under-admission shrinks as 1/(S+1). Measured (shared 2-core machine, redis-server 6.2,
µs per EVALSHA from `INFO commandstats`, one descriptor, 200 busy counters, two runs):
S = 5: 9-11, 10: 10-12, 20: 12-16, 50: 20-31, 100: 33-54; a refused check (S = 20) 10-12; the
two-counter estimate it replaced: 6-10. The upper ends are a 1 s window, where almost every call
also drops a sub-window that left. Against the ~240 µs of service CPU a decision costs (gRPC
included), S = 20 adds a few µs. Memory: at most S + 1 small integer fields per counter; the
key expires once its newest hits have left the span (at most W + w after them).

Per key (the keys of all requests, in order) the script answers four integers: fits (1/0: this
counter alone would admit), remaining, milliseconds until every hit counted now has left the
span (the whole ceiling is free again; 0 when nothing is counted), and until the same hits
could fit (0 when they fit).
"""

import hashlib

SUB_WINDOWS = 20

SOURCE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])  -- microseconds: exact in a double
local requests = tonumber(ARGV[1])
local results = {}

-- Decides one request: its keys are KEYS[first .. last]; appends a row per key to results.
local function decide(first, last)
  local checks = {}
  local admit = true
  for i = first, last do
    local base = requests + 1 + (i - 1) * 5
    local span = tonumber(ARGV[base + 1])
    local width = tonumber(ARGV[base + 2]) * 1000
    local ceiling = tonumber(ARGV[base + 3])
    local hits = tonumber(ARGV[base + 4])
    local shadow = ARGV[base + 5] == '1'
    local index = math.floor(now / width)
    -- fields[k] is sub-window index - span + k - 1: the oldest first, the current one last.
    local fields = {}
    for k = 1, span + 1 do
      fields[k] = string.format('%d', index - span + k - 1)
    end
    local counts = redis.call('HMGET', KEYS[i], unpack(fields))
    local total, present = 0, 0
    for k = 1, span + 1 do
      local count = tonumber(counts[k])
      if count then
        present = present + 1
      else
        count = 0
      end
      counts[k] = count
      total = total + count
    end
    local ok = total + hits <= ceiling
    if not ok and not shadow then
      admit = false
    end
    checks[i] = {span, width, ceiling, hits, ok, index, fields, counts, total, present}
  end
  for i = first, last do
    local c = checks[i]
    local span, width, ceiling, hits, ok = c[1], c[2], c[3], c[4], c[5]
    local index, fields, counts, total, present = c[6], c[7], c[8], c[9], c[10]
    local key = KEYS[i]
    if admit and ok then
      if counts[span + 1] == 0 then
        present = present + 1
      end
      redis.call('HINCRBY', key, fields[span + 1], hits)
      counts[span + 1] = counts[span + 1] + hits
      total = total + hits
      -- Sub-windows older than the span are never read again. A counter used at every
      -- sub-window holds one such field at most; one with gaps would keep them until it expires.
      if redis.call('HLEN', key) > present then
        local oldest = index - span
        local stale = {}
        for _, field in ipairs(redis.call('HKEYS', key)) do
          if tonumber(field) < oldest then
            stale[#stale + 1] = field
          end
        end
        if #stale > 0 then  -- none when Redis time went back (a failover to another clock)
          redis.call('HDEL', key, unpack(stale))
        end
      end
      redis.call('PEXPIRE', key, math.ceil(((index + span + 1) * width - now) / 1000))
    end
    -- Sub-window fields[k] leaves the span at (index + k) x width.
    local reset_us = 0
    for k = span + 1, 1, -1 do
      if counts[k] > 0 then
        reset_us = (index + k) * width - now
        break
      end
    end
    local retry_us = 0
    if not ok then
      -- The hits fit once enough of the oldest sub-windows have left. More hits than the
      -- ceiling never fit: then a whole window after the current sub-window.
      retry_us = (index + span + 1) * width - now
      local left = total
      for k = 1, span + 1 do
        left = left - counts[k]
        if counts[k] > 0 and left + hits <= ceiling then
          retry_us = (index + k) * width - now
          break
        end
      end
    end
    results[i] = {ok and 1 or 0, math.max(0, ceiling - total),
                  math.ceil(reset_us / 1000), math.ceil(retry_us / 1000)}
  end
end

local first = 1
for r = 1, requests do
  local count = tonumber(ARGV[r + 1])
  decide(first, first + count - 1)
  first = first + count
end
return results
"""

SHA = hashlib.sha1(SOURCE.encode()).hexdigest()  # noqa: S324 - the name Redis gives a script
