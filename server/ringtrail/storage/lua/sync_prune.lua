-- One chunk of a pool's sync (tracking/poolsync.py), after every sync_add.lua chunk:
-- take out the numbers that left the list, then mark the pool synced.
--
-- KEYS[1] numbers  SET   every leasable number of the pool
-- KEYS[2] free     ZSET  number -> time it was released
-- KEYS[3] stats    HASH  version (written when the scan ends), syncing (removed then)
-- KEYS[4] staging  SET   every number of the list (sync_add.lua); unlinked at the end
--
-- ARGV[1] version of the list being synced to
-- ARGV[2] SSCAN cursor over KEYS[1] ("0" to begin)
-- ARGV[3] SSCAN COUNT: how much of the set one chunk looks at
--
-- Returns {next cursor ("0": done, the pool is synced), numbers removed}.
-- A removed number that is still leased stays in the busy set until its leases end;
-- lease.lua then does not return it to the free set because it is no longer a member.
local scan = redis.call('SSCAN', KEYS[1], ARGV[2], 'COUNT', tonumber(ARGV[3]))
local members = scan[2]
local gone = {}
if #members > 0 then
  local kept = redis.call('SMISMEMBER', KEYS[4], unpack(members))
  for i, number in ipairs(members) do
    if kept[i] == 0 then table.insert(gone, number) end
  end
end
if #gone > 0 then
  redis.call('SREM', KEYS[1], unpack(gone))
  redis.call('ZREM', KEYS[2], unpack(gone))
end
if scan[1] == '0' then
  redis.call('HSET', KEYS[3], 'version', ARGV[1])
  redis.call('HDEL', KEYS[3], 'syncing')
  -- UNLINK frees a big set in the background: deleting 100,000 members here would
  -- cost the very stall the chunks avoid.
  redis.call('UNLINK', KEYS[4])
end
return {scan[1], #gone}
