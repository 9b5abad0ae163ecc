-- Move one 0.1.0 update record, its owner beside it, in one step (`plenary store migrate`). A record already
-- under the new name wins: this version may have edited it since.
-- KEYS: old record, new record; ARGV: owner (the id of its author's token)
local moved = 0
if redis.call('EXISTS', KEYS[2]) == 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[2], unpack(redis.call('HGETALL', KEYS[1])))
  redis.call('HSET', KEYS[2], 'owner', ARGV[1])
  moved = 1
end
redis.call('DEL', KEYS[1])
return moved
