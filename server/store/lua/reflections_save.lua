-- Store a compiled draft, unless an editor edited it meanwhile.
-- KEYS: post; ARGV: replace (0/1), then field/value pairs
if redis.call('HGET', KEYS[1], 'edited') == '1' and ARGV[1] ~= '1' then
  redis.call('HDEL', KEYS[1], 'compiling')
  return 'edited'
end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'edited', '0', 'status', 'draft')
redis.call('HDEL', KEYS[1], 'compiling')
return redis.call('HINCRBY', KEYS[1], 'version', 1)
