-- Stash a call event for its job, stamped with the time on Redis's clock.
--
-- Runs inside the MULTI/EXEC that queues the event's job, so the call's arrival is read
-- on the same clock as every lease (lease.lua reads TIME too).
--
-- KEYS[1] event  STRING  the event's JSON, an object
--
-- ARGV[1] the event's JSON, without "clock"
-- ARGV[2] seconds to keep it
-- ARGV[3] "" to stamp it with TIME; a time (tests); or "-" to leave it unstamped (an
--         event replayed from a spool: its clock is its web node's, read when it came)
--
-- Returns the stamp, as a string ("" when unstamped).
local stamp = ARGV[3]
if stamp == '' then
  local clock = redis.call('TIME')
  stamp = string.format('%d.%06d', clock[1], clock[2])
end
local body = ARGV[1]
if stamp ~= '-' then
  body = string.sub(body, 1, -2) .. ',"clock":' .. stamp .. '}'
else
  stamp = ''
end
redis.call('SET', KEYS[1], body, 'EX', tonumber(ARGV[2]))
return stamp
