-- Hide an update at an expected version (its index keys were computed from that version), XADD a delete, PUBLISH.
-- KEYS: log, channel, record, of day, of session (or none), by seq, pinned
-- ARGV: payload ({"id"}), maxlen, id, expected version
local found = redis.call('HMGET', KEYS[3], 'seq', 'v')
local cur = found[1]
if not cur then return {'gone'} end
if found[2] ~= ARGV[4] then return {'stale'} end
local m = member(cur, ARGV[3])
redis.call('ZREM', KEYS[4], m)
if given(KEYS[5]) then redis.call('ZREM', KEYS[5], m) end
redis.call('ZREM', KEYS[6], m)
if redis.call('GET', KEYS[7]) == ARGV[3] then redis.call('DEL', KEYS[7]) end
redis.call('DEL', KEYS[3])
local seq = log_add(KEYS[1], ARGV[2], 'delete', ARGV[1])
announce(KEYS[2], seq, 'delete', ARGV[1])
return {'ok', seq}
