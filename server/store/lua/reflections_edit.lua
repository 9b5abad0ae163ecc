-- An editor's save at an expected version.
-- KEYS: post; ARGV: expected version, then field/value pairs
local version = redis.call('HGET', KEYS[1], 'version')
if not version then return {'gone'} end
if version ~= ARGV[1] then return {'stale', version} end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'edited', '1', 'status', 'draft')
return {'ok', redis.call('HINCRBY', KEYS[1], 'version', 1)}
