-- KEYS: tokens, audit stream; ARGV: name, key prefix of digest keys (same slot as tokens: one hash tag), who,
-- at, audit cap
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local rec = cmsgpack.unpack(raw)
redis.call('DEL', ARGV[2] .. rec['hash'])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*',
  'who', ARGV[3], 'what', 'revoke', 'name', ARGV[1], 'role', rec['role'], 'at', ARGV[4])
return 1
