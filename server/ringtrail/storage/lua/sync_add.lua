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
-- ARGV[3..] one chunk of the list
--
-- Returns the number of numbers added to the pool.
-- A number added here may be leased at once: lease.lua accepts a pool whose "syncing"
-- is the version it expects. Numbers that left the list go in sync_prune.lua.
redis.call('HSET', KEYS[4], 'syncing', ARGV[1])
local added = 0
for i = 3, #ARGV do
  local number = ARGV[i]
  redis.call('SADD', KEYS[5], number)
  if redis.call('SADD', KEYS[1], number) == 1 then
    added = added + 1
    if not redis.call('ZSCORE', KEYS[3], number) then
      redis.call('ZADD', KEYS[2], 'NX', 0, number)
    end
  end
end
redis.call('EXPIRE', KEYS[5], tonumber(ARGV[2]))
return added
