-- Post an update: idempotency check, move the pin, XADD, record and indexes, PUBLISH; all of it or nothing.
-- KEYS: log, channel, idempotency (or none), record, by seq, of day, of session (or none), pinned, previously pinned
--       update (or none)
-- ARGV: payload, id, fingerprint, idempotency ttl, maxlen, pinned (0/1), pinned id seen (or none), its version,
--       its unpinned version, its unpinned payload, owner (the posting token's id; kept out of the payload)
if given(KEYS[3]) then
  local prev = redis.call('HMGET', KEYS[3], 'fp', 'seq', 'id')
  if prev[1] then return {'dup', prev[1], prev[2], prev[3]} end
end
if ARGV[6] == '1' then
  if pin_moved(KEYS[8], KEYS[9], ARGV[7], ARGV[8]) then return {'pin-moved'} end
  unpin(KEYS[1], KEYS[2], ARGV[5], KEYS[9], ARGV[9], ARGV[10])
end
local seq = log_add(KEYS[1], ARGV[5], 'update', ARGV[1])
redis.call('HSET', KEYS[4], 'seq', seq, 'v', '1', 'd', ARGV[1], 'owner', ARGV[11])
local m = member(seq, ARGV[2])
redis.call('ZADD', KEYS[5], 0, m)
redis.call('ZADD', KEYS[6], 0, m)
if given(KEYS[7]) then redis.call('ZADD', KEYS[7], 0, m) end
if ARGV[6] == '1' then redis.call('SET', KEYS[8], ARGV[2]) end
if given(KEYS[3]) then
  redis.call('HSET', KEYS[3], 'fp', ARGV[3], 'seq', seq, 'id', ARGV[2])
  redis.call('EXPIRE', KEYS[3], ARGV[4])
end
announce(KEYS[2], seq, 'update', ARGV[1])
return {'ok', seq}
