-- The pin moves inside the script that pins: the update pinned before is unpinned by an edit entry of the same
-- script, so the event never has two pinned updates. The caller read the pin (and that update) first and sends
-- what it saw; when the pin moved meanwhile, the script writes nothing and answers 'pin-moved' (read again).
-- pin_args: pinned key, the previous update's key (or none), the pinned id the caller saw (or ''), that update's
-- version, its unpinned version number and its unpinned record.
local function pin_moved(pinned_key, prev_key, seen_id, prev_version)
  local current = redis.call('GET', pinned_key) or ''
  if current ~= seen_id then return true end
  return given(prev_key) and redis.call('HGET', prev_key, 'v') ~= prev_version
end
local function unpin(log, channel, maxlen, prev_key, new_version, payload)
  if not given(prev_key) then return end
  redis.call('HSET', prev_key, 'v', new_version, 'd', payload)
  local seq = log_add(log, maxlen, 'edit', payload)
  announce(channel, seq, 'edit', payload)
end
