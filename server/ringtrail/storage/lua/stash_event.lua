-- Stash a call event for its job, stamped with the time on Redis's clock, and put its
-- id in the intake inbox, where the worker turns it into a job (intake.move).
--
-- One script, so the stash and the inbox entry are written together or not at all, in
-- one round trip; the call's arrival is read on the same clock as every lease
-- (lease.lua reads TIME too).
--
-- KEYS[1] event  STRING  the event's JSON, an object
-- KEYS[2] inbox  LIST    event ids waiting to become jobs
--
-- ARGV[1] the event's JSON, without "clock"
-- ARGV[2] seconds to keep it
-- ARGV[3] "" to stamp it with TIME; a time (tests); or "-" to leave it unstamped (an
--         event replayed from a spool: its clock is its web node's, read when it came)
-- ARGV[4] the event id
-- ARGV[5] "1" to put the id in the inbox even if the event was stashed already (a
--         replay: its job may be gone); else only a new event's id goes in (a webhook
--         delivered twice makes one job)
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
local existed = redis.call('EXISTS', KEYS[1])
redis.call('SET', KEYS[1], body, 'EX', tonumber(ARGV[2]))
if existed == 0 or ARGV[5] == '1' then
  redis.call('RPUSH', KEYS[2], ARGV[4])
end
return stamp
