-- Move one 0.1.0 token, by name and by digest, in one step (`plenary store migrate`; one node only, as 0.1.0).
-- KEYS: old tokens, new tokens; ARGV: name, its record with an id (used unless a run before gave it one),
--       old digest-key prefix, new digest-key prefix
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return {'gone'} end
local digest = cmsgpack.unpack(raw)['hash']
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if not cur then
  cur = ARGV[2]
  redis.call('HSET', KEYS[2], ARGV[1], cur)
end
if cmsgpack.unpack(cur)['hash'] ~= digest then return {'taken', digest} end
redis.call('SET', ARGV[4] .. digest, cur)
redis.call('DEL', ARGV[3] .. digest)
redis.call('HDEL', KEYS[1], ARGV[1])
return {'ok', digest}
