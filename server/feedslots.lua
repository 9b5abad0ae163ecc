-- Take one feed slot of a client address: KEYS[1] is a sorted set of open feeds (member = process:connection,
-- score = lease end in ms). Leases the owning process stopped renewing (it died) are dropped first.
-- ARGV: member, limit, lease ms. Returns 1 when taken, 0 when the address already has `limit` feeds.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease)
return 1
