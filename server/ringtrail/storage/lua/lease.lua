-- Lease a tracking number to a visitor session, or renew the one it holds.
--
-- KEYS[1] numbers   SET   every leasable number of the pool
-- KEYS[2] free      ZSET  number -> time it was released (0 = never used)
-- KEYS[3] busy      ZSET  number -> latest expiry among its leases
-- KEYS[4] leases    HASH  number -> cjson {session: [start, expires, shared]}
-- KEYS[5] holders   HASH  session -> number
-- KEYS[6] history   HASH  number -> cjson [[session, start, end, shared], ...] newest first
-- KEYS[7] stats     HASH  version, and running totals: leases, exhausted, shared
-- KEYS[8] visits    HASH  visit counts of one day, field "source|medium" (expires in 3 days)
-- KEYS[9] hours     HASH  load of one day by hour HH (expires in 3 days): new:HH leases,
--                         exhausted:HH, peak:HH live leases, held:HH seconds and
--                         ended:HH count of the leases that ended
--
-- ARGV[1] now, seconds since the epoch (the caller's clock; no sweeper runs)
-- ARGV[2] session id
-- ARGV[3] lease seconds
-- ARGV[4] exhaustion policy: reuse_oldest | overflow | original
-- ARGV[5] expected numbers version (see sync.lua)
-- ARGV[6] hour of the day, HH, for the hourly counters
-- ARGV[7] history seconds: ended leases older than this are forgotten
-- ARGV[8] visit field to count when this is a new lease, or ""
-- ARGV[9] allocation: "lru" (production) or "random" (only for the simulator's comparison)
--
-- Returns {status, number, shared}
--   status: new | renewed | shared | overflow | original | unsynced
local now = tonumber(ARGV[1])
local session = ARGV[2]
local lease_seconds = tonumber(ARGV[3])
local policy = ARGV[4]
local hour = ARGV[6]
local keep_history = tonumber(ARGV[7])

if redis.call('HGET', KEYS[7], 'version') ~= ARGV[5] then
  return {'unsynced', '', 0}
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

-- End every expired lease of one number; free the number once none is left.
local function reclaim(number)
  local leases = decode(redis.call('HGET', KEYS[4], number), {})
  local history = decode(redis.call('HGET', KEYS[6], number), {})
  local kept, latest, ended_at, live = {}, 0, 0, false
  for holder, lease in pairs(leases) do
    if lease[2] <= now then
      table.insert(history, 1, {holder, lease[1], lease[2], lease[3]})
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
  local pruned = {}
  for _, entry in ipairs(history) do
    if #pruned < 16 and entry[3] >= now - keep_history then table.insert(pruned, entry) end
  end
  if #pruned > 0 then
    redis.call('HSET', KEYS[6], number, cjson.encode(pruned))
  else
    redis.call('HDEL', KEYS[6], number)
  end
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

-- Expiry is enforced here, from the time passed in; a bounded batch keeps each call cheap.
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
    redis.call('HSET', KEYS[4], held, cjson.encode(leases))
    redis.call('ZADD', KEYS[3], expires, held)
    return {'renewed', held, lease[3]}
  end
  redis.call('HDEL', KEYS[5], session)
  if lease then reclaim(held) end
end

if ARGV[8] ~= '' and redis.call('HINCRBY', KEYS[8], ARGV[8], 1) == 1 then
  redis.call('EXPIRE', KEYS[8], 3 * 86400)  -- long enough for the flush job to copy it
end

local function note_peak()
  local busy = redis.call('ZCARD', KEYS[3])
  local peak = tonumber(redis.call('HGET', KEYS[9], 'peak:' .. hour) or '0')
  if busy > peak then redis.call('HSET', KEYS[9], 'peak:' .. hour, busy) end
end

-- Least recently released first: the longest quarantine before a number is reused.
local oldest_free
if ARGV[9] == 'random' then
  oldest_free = redis.call('ZRANDMEMBER', KEYS[2])
else
  oldest_free = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
end
if oldest_free then
  redis.call('ZREM', KEYS[2], oldest_free)
  local leases = {}
  leases[session] = {now, expires, 0}
  redis.call('HSET', KEYS[4], oldest_free, cjson.encode(leases))
  redis.call('ZADD', KEYS[3], expires, oldest_free)
  redis.call('HSET', KEYS[5], session, oldest_free)
  redis.call('HINCRBY', KEYS[7], 'leases', 1)
  bump('new:' .. hour, 1)
  note_peak()
  return {'new', oldest_free, 0}
end

redis.call('HINCRBY', KEYS[7], 'exhausted', 1)
bump('exhausted:' .. hour, 1)

if policy == 'reuse_oldest' then
  local idlest = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
  if not idlest then return {'original', '', 0} end
  local leases = decode(redis.call('HGET', KEYS[4], idlest), {})
  for _, lease in pairs(leases) do lease[3] = 1 end
  leases[session] = {now, expires, 1}
  redis.call('HSET', KEYS[4], idlest, cjson.encode(leases))
  redis.call('ZADD', KEYS[3], expires, idlest)
  redis.call('HSET', KEYS[5], session, idlest)
  redis.call('HINCRBY', KEYS[7], 'shared', 1)
  return {'shared', idlest, 1}
end
if policy == 'overflow' then return {'overflow', '', 0} end
return {'original', '', 0}
