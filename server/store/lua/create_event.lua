-- KEYS: events; ARGV: event id, record. A script, so that the durability wait follows it like every write.
return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
