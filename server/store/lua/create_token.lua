-- KEYS: tokens, the token's digest key, audit stream; ARGV: name, record, who, role, at, audit cap. The digest
-- key holds the record too: one read per request authenticates.
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*',
  'who', ARGV[3], 'what', 'create', 'name', ARGV[1], 'role', ARGV[4], 'at', ARGV[5])
return 1
