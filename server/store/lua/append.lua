-- Append a plain entry (session, test fill), optionally storing its record in a hash, and publish it.
-- KEYS: log, channel, hash (or none); ARGV: type, payload, maxlen, hash field
local created = 0
if given(KEYS[3]) then created = redis.call('HSET', KEYS[3], ARGV[4], ARGV[2]) end
local seq = log_add(KEYS[1], ARGV[3], ARGV[1], ARGV[2])
announce(KEYS[2], seq, ARGV[1], ARGV[2])
return {'ok', seq, created}
