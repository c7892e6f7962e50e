-- Lease a tracking number to a visitor session, or renew the one it holds.
--
-- KEYS[1]  numbers  SET   every leasable number of the pool
-- KEYS[2]  free     ZSET  number -> time it was released (0 = never used)
-- KEYS[3]  busy     ZSET  number -> latest expiry among its leases
-- KEYS[4]  leases   HASH  number -> cjson {session: [start, expires, shared, last]}
--                         (last: the visitor's latest page view or heartbeat)
-- KEYS[5]  holders  HASH  session -> number
-- KEYS[6]  history  HASH  number -> its ended leases, oldest first, as text:
--                         "COUNT\n" then a line "session start end shared last\n" each
--                         (last empty when unknown); older versions wrote a cjson array
--                         [[session, start, end, shared, last], ...], newest first, which
--                         is read, and rewritten as text, when its number is reclaimed
-- KEYS[7]  stats    HASH  version, and running totals: leases, exhausted, shared
-- KEYS[8]  visits   HASH  visit counts of one day, field "source|medium" (expires in 3 days)
-- KEYS[9]  hours    HASH  load of one day by hour HH (expires in 3 days): new:HH leases,
--                         exhausted:HH, peak:HH live leases, held:HH seconds and
--                         ended:HH count of the leases that ended
-- KEYS[10] refused  ZSET  session -> time its refusal ends: a visitor turned away is
--                         answered the same way, and counted once, while it stays active
-- KEYS[11] starts   STRING session starts on this pool in the current minute (expires)
-- KEYS[12] client   STRING session starts of one anonymous client (a keyed hash of its
--                         address and user agent, salted per window) in the current
--                         10 minutes (expires with the window)
--
-- ARGV[1]  now, seconds since the epoch; "" reads Redis's TIME (one clock for every web
--          node); tests and the simulator pass a time in
-- ARGV[2]  session id
-- ARGV[3]  lease seconds
-- ARGV[4]  exhaustion policy: reuse_oldest | overflow | original
-- ARGV[5]  expected numbers version: the stats' "version", or its "syncing" while a sync
--          to it runs (sync_add.lua: the numbers added so far may be leased already)
-- ARGV[6]  the day KEYS[8] and KEYS[9] belong to, in days since the epoch
-- ARGV[7]  history seconds: ended leases older than this are forgotten
-- ARGV[8]  visit field to count when this is a new lease, or ""
-- ARGV[9]  allocation: "lru" (production), or a fraction in [0, 1) that picks one rested
--          number at random (only for the simulator's comparison)
-- ARGV[10] rest seconds: a released number waits this long before another visitor
-- ARGV[11] "1" if the visitor's source has its own source-level number: on exhaustion it
--          gets that number ("source") rather than a shared one
-- ARGV[12] session starts allowed per minute on this pool (0: no limit)
-- ARGV[13] session starts allowed per anonymous client per 10 minutes (0: no limit)
--
-- Returns {status, number, shared, now}
--   status: new | renewed | shared | overflow | original | source | limited | unsynced
--   now: the time the script used
--
-- One boundary rule, shared with calls/attribution.py: a lease is live on [start, end)
-- (at its end it has expired), and a number released at r may be leased again from
-- r + rest on.
local now = tonumber(ARGV[1])
if not now then
  local clock = redis.call('TIME')
  now = tonumber(clock[1]) + tonumber(clock[2]) / 1e6
end
local session = ARGV[2]
local lease_seconds = tonumber(ARGV[3])
local policy = ARGV[4]
local keep_history = tonumber(ARGV[7])
local rest = tonumber(ARGV[10])
local has_source = ARGV[11] == '1'

if redis.call('HGET', KEYS[7], 'version') ~= ARGV[5]
    and redis.call('HGET', KEYS[7], 'syncing') ~= ARGV[5] then
  return {'unsynced', '', 0, tostring(now)}
end

-- The hour of the counters, on the same clock; the caller named the day's keys from its
-- own clock, so near midnight a skewed node's counts go to that day's first or last hour.
local day = math.floor(now / 86400)
local declared = tonumber(ARGV[6])
local hour
if day > declared then
  hour = '23'
elseif day < declared then
  hour = '00'
else
  hour = string.format('%02d', math.floor((now % 86400) / 3600))
end

local function decode(raw, empty)
  if raw then return cjson.decode(raw) end
  return empty
end

-- Hourly counters live in a per-day hash that expires once the flush job has copied it.
local function bump(field, by)
  if redis.call('HINCRBY', KEYS[9], field, by) == by then
    redis.call('EXPIRE', KEYS[9], 3 * 86400)
  end
end

-- A number's history is appended to, never decoded whole: a reclaim costs the same
-- whether the number served one visit or sixty within the history window. Kept by age
-- (long enough to judge a call replayed from the spool as of when it happened), with a
-- count bound as a safety net; the oldest lines go first.
local HISTORY_CAP = 64
local cutoff = now - keep_history

local function history_line(session, start, ended, shared, last)
  local flag = (shared == 1 or shared == true) and '1' or '0'
  local seen = last and last ~= cjson.null and tostring(last) or ''
  return session .. ' ' .. tostring(start) .. ' ' .. tostring(ended) .. ' ' .. flag .. ' '
    .. seen .. '\n'
end

-- The number's history as (count, text, from): its lines are text from index from on
-- (not cut out: every copy of a long string costs); an array of older versions becomes
-- lines.
local function read_history(number)
  local raw = redis.call('HGET', KEYS[6], number)
  if not raw then return 0, '', 1 end
  if string.sub(raw, 1, 1) == '[' then
    local old, lines = cjson.decode(raw), {}
    for i = #old, 1, -1 do
      local e = old[i]
      lines[#lines + 1] = history_line(e[1], e[2], e[3], e[4], e[5])
    end
    return #old, table.concat(lines), 1
  end
  local head = string.find(raw, '\n', 1, true)
  return tonumber(string.sub(raw, 1, head - 1)), raw, head + 1
end

-- Drop the first lines of text (from index from on) while they are too old, or more
-- than the cap when count lines are kept; returns the count and index left.
local function drop_oldest(text, from, count, droppable)
  while droppable > 0 do
    local last_end = tonumber(string.match(text, '^%S* %S+ (%S+)', from))
    if count <= HISTORY_CAP and last_end >= cutoff then break end
    from = string.find(text, '\n', from, true) + 1
    count, droppable = count - 1, droppable - 1
  end
  return count, from
end

-- Add the lines of leases that just ended (already within the age), drop the oldest
-- while they are too old or too many, and write it back (or delete it when nothing is
-- left): one new string made, whatever the history holds.
local function write_history(number, ended)
  local stored, text, from = read_history(number)
  local count
  count, from = drop_oldest(text, from, stored + #ended, stored)
  local added = table.concat(ended)
  if count > HISTORY_CAP then  -- more leases ended at once than the cap: rare
    local start
    count, start = drop_oldest(added, 1, count, #ended)
    added = string.sub(added, start)
  end
  if count > 0 then
    redis.call('HSET', KEYS[6], number, count .. '\n' .. string.sub(text, from) .. added)
  else
    redis.call('HDEL', KEYS[6], number)
  end
end

-- End every expired lease of one number; free the number once none is left.
local function reclaim(number)
  local leases = decode(redis.call('HGET', KEYS[4], number), {})
  local ended = {}
  local kept, latest, ended_at, live = {}, 0, 0, false
  for holder, lease in pairs(leases) do
    if lease[2] <= now then
      if lease[2] >= cutoff then
        ended[#ended + 1] = history_line(holder, lease[1], lease[2], lease[3], lease[4])
      end
      bump('held:' .. hour, math.floor(lease[2] - lease[1]))
      bump('ended:' .. hour, 1)
      if redis.call('HGET', KEYS[5], holder) == number then
        redis.call('HDEL', KEYS[5], holder)
      end
      if lease[2] > ended_at then ended_at = lease[2] end
    else
      kept[holder] = lease
      live = true
      if lease[2] > latest then latest = lease[2] end
    end
  end
  write_history(number, ended)
  if live then
    redis.call('HSET', KEYS[4], number, cjson.encode(kept))
    redis.call('ZADD', KEYS[3], latest, number)
  else
    redis.call('HDEL', KEYS[4], number)
    redis.call('ZREM', KEYS[3], number)
    if redis.call('SISMEMBER', KEYS[1], number) == 1 then
      redis.call('ZADD', KEYS[2], ended_at, number)
    end
  end
end

-- Expiry is enforced here, from the time above; a bounded batch keeps each call cheap.
for _, number in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 20)) do
  reclaim(number)
end

local expires = now + lease_seconds
local held = redis.call('HGET', KEYS[5], session)
if held then
  local leases = decode(redis.call('HGET', KEYS[4], held), {})
  local lease = leases[session]
  if lease and lease[2] > now then
    lease[2] = expires
    lease[4] = now
    redis.call('HSET', KEYS[4], held, cjson.encode(leases))
    redis.call('ZADD', KEYS[3], expires, held)
    return {'renewed', held, lease[3], tostring(now)}
  end
  redis.call('HDEL', KEYS[5], session)
  if lease then reclaim(held) end
end

-- A visitor already turned away gets the same answer, renewed like a lease, and is not
-- counted again: every page view and heartbeat is not a new exhaustion.
redis.call('ZREMRANGEBYSCORE', KEYS[10], '-inf', now)
local function refuse(status)
  redis.call('ZADD', KEYS[10], expires, session)
  return {status, '', 0, tostring(now)}
end
local function refusal()
  if has_source then return 'source' end
  if policy == 'overflow' then return 'overflow' end
  return 'original'
end
if redis.call('ZSCORE', KEYS[10], session) then
  return refuse(refusal())
end

-- A new visitor: within the limits on session starts, so that one client (or a flood)
-- cannot drain the pool. Over a limit it gets the source-level or business number.
local function over(key, limit, window)
  if limit <= 0 then return false end
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('EXPIRE', key, window) end
  return count > limit
end
if over(KEYS[11], tonumber(ARGV[12]), 60) or over(KEYS[12], tonumber(ARGV[13]), 600) then
  redis.call('HINCRBY', KEYS[7], 'limited', 1)
  return refuse('limited')
end

if ARGV[8] ~= '' and redis.call('HINCRBY', KEYS[8], ARGV[8], 1) == 1 then
  redis.call('EXPIRE', KEYS[8], 3 * 86400)  -- long enough for the flush job to copy it
end

local function note_peak()
  local busy = redis.call('ZCARD', KEYS[3])
  local peak = tonumber(redis.call('HGET', KEYS[9], 'peak:' .. hour) or '0')
  if busy > peak then redis.call('HSET', KEYS[9], 'peak:' .. hour, busy) end
end

local function take(number, shared)
  redis.call('ZREM', KEYS[2], number)
  local leases = decode(redis.call('HGET', KEYS[4], number), {})
  leases[session] = {now, expires, shared, now}
  redis.call('HSET', KEYS[4], number, cjson.encode(leases))
  redis.call('ZADD', KEYS[3], expires, number)
  redis.call('HSET', KEYS[5], session, number)
end

-- Only a rested number is free: released at least `rest` seconds ago, so that a late
-- call from its last holder cannot reach a new one. Least recently released first.
local rested = now - rest
local pick
if ARGV[9] == 'lru' then
  pick = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', rested, 'LIMIT', 0, 1)[1]
else
  local count = redis.call('ZCOUNT', KEYS[2], '-inf', rested)
  if count > 0 then
    local offset = math.min(count - 1, math.floor(tonumber(ARGV[9]) * count))
    pick = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', rested, 'LIMIT', offset, 1)[1]
  end
end
if pick then
  take(pick, 0)
  redis.call('HINCRBY', KEYS[7], 'leases', 1)
  bump('new:' .. hour, 1)
  note_peak()
  return {'new', pick, 0, tostring(now)}
end

redis.call('HINCRBY', KEYS[7], 'exhausted', 1)
bump('exhausted:' .. hour, 1)

if policy == 'reuse_oldest' and not has_source then
  -- The least recently active live lease, else the number resting longest. Taking a
  -- resting number would start its rest over: under load no number would ever finish
  -- resting. Calls that could be either visitor's are ambiguous.
  -- A number no longer in the pool (retiring, or removed) is never shared: only its
  -- own holders renew it until their leases end.
  --
  -- Live leases whose latest expiry ties (leases started at one instant: a burst, or a
  -- time passed in) are taken in turn, by the running count of shared leases, so that
  -- they cannot all land on the first of them by name; the tied ones hold consecutive
  -- ranks, so the turn costs O(log n) like the rest.
  local reuse, score
  local lowest = redis.call('ZRANGE', KEYS[3], 0, 15, 'WITHSCORES')
  for i = 1, #lowest, 2 do
    if redis.call('SISMEMBER', KEYS[1], lowest[i]) == 1 then
      reuse, score = lowest[i], lowest[i + 1]
      break
    end
  end
  if reuse then
    local ties = redis.call('ZCOUNT', KEYS[3], score, score)
    if ties > 1 then
      local below = redis.call('ZCOUNT', KEYS[3], '-inf', '(' .. score)
      local turn = tonumber(redis.call('HGET', KEYS[7], 'shared') or '0')
      for step = 0, math.min(ties, 16) - 1 do
        local rank = below + (turn + step) % ties
        local candidate = redis.call('ZRANGE', KEYS[3], rank, rank)[1]
        if candidate and redis.call('SISMEMBER', KEYS[1], candidate) == 1 then
          reuse = candidate
          break
        end
      end
    end
  else
    reuse = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  end
  if reuse then
    take(reuse, 1)
    redis.call('HINCRBY', KEYS[7], 'shared', 1)
    return {'shared', reuse, 1, tostring(now)}
  end
end
return refuse(refusal())
