"""A Lua function for differential scripts that shows a value whole, so that two servers'
values compare as one string: every type, every number to 17 digits, strings quoted,
tables with their keys in the order ``pairs`` walks them (which is part of what must
match), anything else as ``tostring`` says it (``cjson.null``: ``userdata: (nil)``)."""

SHOW = b"""
local function show(v)
  local t = type(v)
  if t == 'table' then
    local parts = {}
    for k, x in pairs(v) do parts[#parts + 1] = show(k) .. '=' .. show(x) end
    return '{' .. table.concat(parts, ',') .. '}'
  elseif t == 'number' then
    return string.format('%.17g', v)
  elseif t == 'string' then
    return string.format('%q', v)
  end
  return tostring(v)
end
local function all(...)
  local out = {select('#', ...)}
  for i = 1, select('#', ...) do out[i + 1] = show((select(i, ...))) end
  return out
end
"""
"""``show(v)``, and ``all(...)``: how many values, then each shown."""
