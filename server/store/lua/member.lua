-- Index members are "<padded seq>|<id>"; ids are [a-z0-9], so "~" sorts after every id of the same seq.
local function member(seq, id)
  local ms, n = string.match(seq, '^(%d+)-(%d+)$')
  return string.format('%015d-%010d', tonumber(ms), tonumber(n)) .. '|' .. id
end
