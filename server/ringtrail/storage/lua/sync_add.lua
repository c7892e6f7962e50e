-- One chunk of a pool's sync (tracking/poolsync.py): add these numbers to the pool.
--
-- KEYS[1] numbers  SET   every leasable number of the pool
-- KEYS[2] free     ZSET  number -> time it was released (0 = never used)
-- KEYS[3] busy     ZSET  number -> latest lease expiry
-- KEYS[4] stats    HASH  syncing: the version being synced to (written here)
-- KEYS[5] staging  SET   the numbers of that version seen so far (expires, see ARGV[2])
--
-- ARGV[1] version of the list being synced to
-- ARGV[2] seconds the staging set outlives its last chunk (an abandoned sync's set goes)
-- ARGV[3..] one chunk of the list (at most a few thousand: Lua's unpack has a limit)
--
-- Returns the number of numbers added to the pool.
-- A number added here may be leased at once: lease.lua accepts a pool whose "syncing"
-- is the version it expects. Numbers that left the list go in sync_prune.lua.
redis.call('HSET', KEYS[4], 'syncing', ARGV[1])
if #ARGV < 3 then return 0 end
-- Variadic commands (SMISMEMBER and ZMSCORE need Redis 6.2): a handful of calls per
-- chunk, not four per number.
local chunk = {unpack(ARGV, 3)}
redis.call('SADD', KEYS[5], unpack(chunk))
local known = redis.call('SMISMEMBER', KEYS[1], unpack(chunk))
local new = {}
for i, number in ipairs(chunk) do
  if known[i] == 0 then table.insert(new, number) end
end
redis.call('EXPIRE', KEYS[5], tonumber(ARGV[2]))
if #new == 0 then return 0 end
redis.call('SADD', KEYS[1], unpack(new))
-- A new number that still has a live lease (it left the pool and came back) is freed
-- by lease.lua when that lease ends, not here.
local scores = redis.call('ZMSCORE', KEYS[3], unpack(new))
local free = {}
for i, number in ipairs(new) do
  if not scores[i] then
    table.insert(free, 0)
    table.insert(free, number)
  end
end
if #free > 0 then redis.call('ZADD', KEYS[2], 'NX', unpack(free)) end
return #new
