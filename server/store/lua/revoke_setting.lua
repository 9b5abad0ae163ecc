-- KEYS: revoked settings set; ARGV: SHA-256 of the setting's admin token
return redis.call('SADD', KEYS[1], ARGV[1])
