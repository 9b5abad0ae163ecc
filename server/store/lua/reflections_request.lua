-- Mark a compile as queued, unless an editor edited the draft and replace is not asked.
-- KEYS: post; ARGV: replace (0/1), job id
if redis.call('HGET', KEYS[1], 'edited') == '1' and ARGV[1] ~= '1' then return 'edited' end
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('HSET', KEYS[1], 'version', '0', 'status', 'compiling') end
redis.call('HSET', KEYS[1], 'compiling', ARGV[2])
return 'ok'
