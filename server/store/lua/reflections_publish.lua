-- The snapshot and its broadcast are one step, so a published post is always announced on the live feed.
-- KEYS: post, log, channel; ARGV: published_at, msgpack summary, maxlen
if not redis.call('HGET', KEYS[1], 'markdown') then return {'gone'} end
local v = redis.call('HMGET', KEYS[1], 'title', 'html', 'jsonld')
redis.call('HSET', KEYS[1], 'pub_title', v[1], 'pub_html', v[2], 'pub_jsonld', v[3], 'published_at', ARGV[1],
           'status', 'published')
local seq = log_add(KEYS[2], ARGV[3], 'reflections', ARGV[2])
announce(KEYS[3], seq, 'reflections', ARGV[2])
return {'ok', seq}
