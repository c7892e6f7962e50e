-- Make the pool's leasable numbers in Redis match SQL, keeping live leases.
--
-- KEYS[1] numbers  SET   every leasable number of the pool
-- KEYS[2] free     ZSET  number -> time it was released
-- KEYS[3] busy     ZSET  number -> latest lease expiry
-- KEYS[4] stats    HASH  version (written here)
--
-- ARGV[1] version of this number list; ARGV[2..] the numbers
--
-- Returns the number of numbers added.
-- A removed number that is still leased stays until its leases end; lease.lua then
-- does not return it to the free set because it is no longer a member.
local wanted = {}
for i = 2, #ARGV do wanted[ARGV[i]] = true end
for _, number in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if not wanted[number] then
    redis.call('SREM', KEYS[1], number)
    redis.call('ZREM', KEYS[2], number)
  end
end
local added = 0
for number in pairs(wanted) do
  if redis.call('SADD', KEYS[1], number) == 1 then
    added = added + 1
    if not redis.call('ZSCORE', KEYS[3], number) then
      redis.call('ZADD', KEYS[2], 'NX', 0, number)
    end
  end
end
redis.call('HSET', KEYS[4], 'version', ARGV[1])
return added
