-- KEYS: tokens; ARGV: name, key prefix of digest keys (same slot as tokens: one hash tag)
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local rec = cmsgpack.unpack(raw)
redis.call('DEL', ARGV[2] .. rec['hash'])
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
