-- Clear a queued compile that ended without saving (failed for good).
-- KEYS: post; ARGV: job id
if redis.call('HGET', KEYS[1], 'compiling') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'compiling')
  if redis.call('HGET', KEYS[1], 'version') == '0' then redis.call('DEL', KEYS[1]) end
end
return 'ok'
