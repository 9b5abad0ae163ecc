-- Edit an update at an expected version: move its indexes, move the pin, XADD an edit, PUBLISH.
-- KEYS: log, channel, record, old day, old session (or none), new day, new session (or none), by seq, pinned,
--       previously pinned update (or none)
-- ARGV: payload, expected version, new version, maxlen, id, pinned (0/1), pinned id seen (or none), its version,
--       its unpinned version, its unpinned payload
local cur = redis.call('HMGET', KEYS[3], 'v', 'seq')
if not cur[1] then return {'gone'} end
if cur[1] ~= ARGV[2] then return {'stale', cur[1]} end
if ARGV[6] == '1' then
  if pin_moved(KEYS[9], KEYS[10], ARGV[7], ARGV[8]) then return {'pin-moved'} end
  unpin(KEYS[1], KEYS[2], ARGV[4], KEYS[10], ARGV[9], ARGV[10])
  redis.call('SET', KEYS[9], ARGV[5])
elseif redis.call('GET', KEYS[9]) == ARGV[5] then
  redis.call('DEL', KEYS[9])
end
local m = member(cur[2], ARGV[5])
redis.call('ZREM', KEYS[4], m)
if given(KEYS[5]) then redis.call('ZREM', KEYS[5], m) end
redis.call('ZADD', KEYS[6], 0, m)
if given(KEYS[7]) then redis.call('ZADD', KEYS[7], 0, m) end
local seq = log_add(KEYS[1], ARGV[4], 'edit', ARGV[1])
redis.call('HSET', KEYS[3], 'v', ARGV[3], 'd', ARGV[1])
announce(KEYS[2], seq, 'edit', ARGV[1])
return {'ok', seq}
