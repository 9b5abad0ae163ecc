-- KEYS: tokens, the token's digest key; ARGV: name, record. The digest key holds the record too: one read per
-- request authenticates.
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1
