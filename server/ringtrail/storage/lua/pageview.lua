-- Append a page view to a live visitor session and extend its life.
--
-- KEYS[1] visit   STRING  the session (see visits.py): a JSON document written once by
--                         Python, then one line per page, "SECONDS PATH" or
--                         "SECONDS PATH<tab>TITLE", oldest first; SECONDS since the
--                         visit began ('t', in tenths), e.g. "0.4" or "7".
--                         The document is only read here, never re-encoded, and pages
--                         are plain lines: no JSON escaping on the hot path's biggest part.
--
-- ARGV[1] site id the session must belong to
-- ARGV[2] now, seconds since the epoch
-- ARGV[3] the page's path (no newline), or "" for a heartbeat that only extends the session
-- ARGV[4] most pages kept (older ones are dropped)
-- ARGV[5] new time to live, seconds
-- ARGV[6] the page's title (no newline, no tab; "" for none)
--
-- Returns the updated session, or false when it is unknown or another site's.
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local cut = string.find(raw, '\n', 1, true)
local head = cut and string.sub(raw, 1, cut - 1) or raw
local visit = cjson.decode(head)
if tostring(visit['s']) ~= ARGV[1] then return false end
if ARGV[3] ~= '' then
  local elapsed = math.max(0, math.floor((tonumber(ARGV[2]) - (visit['t'] or 0)) * 10))
  local offset = (elapsed % 10 == 0) and tostring(elapsed / 10) or string.format('%.1f', elapsed / 10)
  local line = offset .. ' ' .. ARGV[3]
  if ARGV[6] and ARGV[6] ~= '' then line = line .. '\t' .. ARGV[6] end
  local pages = {}
  if cut then
    for kept in string.gmatch(string.sub(raw, cut + 1), '[^\n]+') do
      table.insert(pages, kept)
    end
  end
  table.insert(pages, line)
  local cap = tonumber(ARGV[4])
  while #pages > cap do table.remove(pages, 1) end
  raw = head .. '\n' .. table.concat(pages, '\n')
end
redis.call('SET', KEYS[1], raw, 'EX', tonumber(ARGV[5]))
return raw
