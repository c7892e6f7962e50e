-- Append a page view to a live visitor session and extend its life.
--
-- KEYS[1] visit   STRING  the session's JSON document (see visits.py)
--
-- ARGV[1] site id the session must belong to
-- ARGV[2] page as JSON: [now, path], stored with now as seconds since the start;
--         "" for a heartbeat, which only extends the session
-- ARGV[3] most pages kept (older ones are dropped)
-- ARGV[4] new time to live, seconds
--
-- Returns the updated document, or false when the session is unknown or another site's.
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local visit = cjson.decode(raw)
if tostring(visit['s']) ~= ARGV[1] then return false end
if ARGV[2] ~= '' then
  local pages = visit['p'] or {}
  local page = cjson.decode(ARGV[2])
  page[1] = math.max(0, math.floor(page[1] - (visit['t'] or 0)))
  table.insert(pages, page)
  local cap = tonumber(ARGV[3])
  while #pages > cap do table.remove(pages, 1) end
  visit['p'] = pages
end
local out = cjson.encode(visit)
redis.call('SET', KEYS[1], out, 'EX', tonumber(ARGV[4]))
return out
