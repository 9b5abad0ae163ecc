-- Delete a session that no live update refers to and publish a session entry saying so.
-- KEYS: log, channel, sessions hash, the session's index; ARGV: session id, payload, maxlen
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 0 then return {'gone'} end
local used = redis.call('ZCARD', KEYS[4])
if used > 0 then return {'used', used} end
redis.call('HDEL', KEYS[3], ARGV[1])
local seq = log_add(KEYS[1], ARGV[3], 'session', ARGV[2])
announce(KEYS[2], seq, 'session', ARGV[2])
return {'ok', seq}
