-- KEYS: revoked settings set, audit stream; ARGV: SHA-256 of the setting's admin token, who, at, audit cap
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*',
  'who', ARGV[2], 'what', 'revoke', 'name', 'admin (admin_token setting)', 'role', 'admin', 'at', ARGV[3])
return 1
