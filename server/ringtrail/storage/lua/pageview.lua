-- Append a page view to a live visitor session and extend its life.
--
-- KEYS[1] visit   STRING  the session (see visits.py): a JSON document written once by
--                         Python, then one line per page, oldest first: "SECONDS PATH",
--                         or "SECONDS:SHARED SUFFIX" for a path that begins with the
--                         previous page's first SHARED bytes (front coding: a site's
--                         paths share their beginnings, and every byte is paid once per
--                         live visitor), either followed by "<tab>TITLE" when the page
--                         had a title; SECONDS since the visit began ('t', in tenths),
--                         e.g. "0.4" or "7". The document is only read here, never
--                         re-encoded, and pages are plain lines: no JSON escaping.
--
-- ARGV[1] site id the session must belong to
-- ARGV[2] now, seconds since the epoch
-- ARGV[3] the page's path (no newline), or "" for a heartbeat that only extends the session
-- ARGV[4] most pages kept (older ones are dropped)
-- ARGV[5] new time to live, seconds
-- ARGV[6] the page's title (no newline, no tab; "" for none)
-- ARGV[7] fewest bytes shared with the previous path that are written as a reference
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
  -- Each line as stored, with its offset, its full path (replaying the references) and
  -- its title part ("<tab>TITLE" or "").
  local pages, offsets, paths, titles = {}, {}, {}, {}
  if cut then
    local previous = ''
    for line in string.gmatch(string.sub(raw, cut + 1), '[^\n]+') do
      local first, rest = string.match(line, '^(%S+) (.*)$')
      local at, shared = string.match(first, '^([%d%.]+):(%d+)$')
      local suffix, title = string.match(rest, '^([^\t]*)(.*)$')
      local path = suffix
      if at then
        path = string.sub(previous, 1, tonumber(shared)) .. suffix
      else
        at = first
      end
      table.insert(pages, line)
      table.insert(offsets, at)
      table.insert(paths, path)
      table.insert(titles, title)
      previous = path
    end
  end
  -- The new line, front-coded against the last path when they share enough.
  local path, min_shared, n = ARGV[3], tonumber(ARGV[7]) or 0, 0
  local title = (ARGV[6] and ARGV[6] ~= '') and ('\t' .. ARGV[6]) or ''
  local previous = paths[#paths]
  if previous and min_shared > 0 then
    local limit = math.min(#previous, #path)
    while n < limit and string.byte(previous, n + 1) == string.byte(path, n + 1) do
      n = n + 1
    end
    -- The suffix starts on a character (a UTF-8 continuation byte is 0x80 to 0xBF).
    while n > 0 and n < #path and string.byte(path, n + 1) >= 0x80
        and string.byte(path, n + 1) < 0xC0 do
      n = n - 1
    end
  end
  if min_shared > 0 and n >= min_shared then
    table.insert(pages, offset .. ':' .. n .. ' ' .. string.sub(path, n + 1) .. title)
  else
    table.insert(pages, offset .. ' ' .. path .. title)
  end
  table.insert(offsets, offset)
  table.insert(paths, path)
  table.insert(titles, title)
  local cap = tonumber(ARGV[4])
  local dropped = false
  while #pages > cap do
    table.remove(pages, 1)
    table.remove(offsets, 1)
    table.remove(paths, 1)
    table.remove(titles, 1)
    dropped = true
  end
  -- The first line refers to no earlier page: written in full once its own went.
  if dropped then pages[1] = offsets[1] .. ' ' .. paths[1] .. titles[1] end
  raw = head .. '\n' .. table.concat(pages, '\n')
end
redis.call('SET', KEYS[1], raw, 'EX', tonumber(ARGV[5]))
return raw
