-- Erase a visitor session from one pool's lease state, keeping the lease timeline.
--
-- The session id is replaced by a stand-in no visitor holds, so the number keeps its
-- quarantine (a late call is still "late", to nobody) and calls to other visitors are
-- attributed exactly as before; only the link to this visitor is gone.
--
-- KEYS[1] leases   HASH  number -> cjson {session: [start, expires, shared]}
-- KEYS[2] holders  HASH  session -> number
-- KEYS[3] history  HASH  number -> "COUNT\n" then "session start end shared last\n" per
--                        ended lease, oldest first (lease.lua); or, written by an older
--                        version, cjson [[session, start, end, shared, last], ...]
--
-- ARGV[1] the session id to erase
-- ARGV[2] the stand-in id
--
-- Returns the number of references replaced or removed.
local session, stand_in = ARGV[1], ARGV[2]
local replaced = redis.call('HDEL', KEYS[2], session)

local flat = redis.call('HGETALL', KEYS[1])
for i = 1, #flat, 2 do
  local leases = cjson.decode(flat[i + 1])
  if leases[session] then
    leases[stand_in] = leases[session]
    leases[session] = nil
    redis.call('HSET', KEYS[1], flat[i], cjson.encode(leases))
    replaced = replaced + 1
  end
end

flat = redis.call('HGETALL', KEYS[3])
for i = 1, #flat, 2 do
  local raw, changed = flat[i + 1], false
  if string.sub(raw, 1, 1) == '[' then
    local history = cjson.decode(raw)
    for _, entry in ipairs(history) do
      if entry[1] == session then
        entry[1] = stand_in
        changed = true
        replaced = replaced + 1
      end
    end
    if changed then raw = cjson.encode(history) end
  else
    local head = string.find(raw, '\n', 1, true)
    local lines = {string.sub(raw, 1, head)}
    for line in string.gmatch(string.sub(raw, head + 1), '[^\n]*\n') do
      local holder = string.match(line, '^%S*')
      if holder == session then
        line = stand_in .. string.sub(line, #holder + 1)
        changed = true
        replaced = replaced + 1
      end
      lines[#lines + 1] = line
    end
    if changed then raw = table.concat(lines) end
  end
  if changed then redis.call('HSET', KEYS[3], flat[i], raw) end
end
return replaced
