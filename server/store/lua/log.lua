-- Every log entry is appended with log_add and announced with announce, last in its script: the pub/sub payload
-- "<seq>\n<type>\n<msgpack>" is what server/store/log.py's parse_published reads.
local function log_add(log, maxlen, kind, payload)
  return redis.call('XADD', log, 'MAXLEN', '~', maxlen, '*', 't', kind, 'd', payload)
end
local function announce(channel, seq, kind, payload)
  redis.call(PUBLISH, channel, seq .. '\n' .. kind .. '\n' .. payload)
end
-- An optional key the caller does not use is passed as the log's name + ':none': the same slot, never written
-- (an empty name would hash to another slot of a Redis Cluster).
local function given(key)
  return key ~= KEYS[1] .. ':none'
end
