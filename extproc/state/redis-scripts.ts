import { createHash } from 'node:crypto';

/**
 * The Lua scripts behind RedisStateStore. Redis runs a script to completion before it serves any other
 * command, so each script is one atomic step: no other replica can read or write between its GET and
 * its INCRBY. Times come from the caller (ARGV) so that the memory store and Redis decide alike and
 * tests can drive the clock; replicas' clocks are assumed NTP-close (a skew moves window edges only).
 * Arithmetic mirrors window-math.ts operation for operation; fixed-point values are integers.
 */
export interface LuaScript {
  readonly source: string;
  readonly sha1: string;
  readonly keys: number;
}

function script(keys: number, source: string): LuaScript {
  return { source, keys, sha1: createHash('sha1').update(source).digest('hex') };
}

/** KEYS[1] claim; ARGV: now, ttlMs. The value is the claim's expiry on the callers' clock. */
export const CLAIM_ONCE = script(1, `
local now = tonumber(ARGV[1])
local v = redis.call('GET', KEYS[1])
if v and tonumber(v) > now then return 0 end
redis.call('SET', KEYS[1], tostring(now + tonumber(ARGV[2])), 'PX', ARGV[2])
return 1
`);

/** KEYS[i] counters; ARGV per key: amount, limit, ttlMs. Returns {granted, used...}. */
export const RESERVE = `
local used = {}
local ok = 1
for i = 1, #KEYS do
  local u = tonumber(redis.call('GET', KEYS[i]) or '0')
  local amount = tonumber(ARGV[i * 3 - 2])
  local limit = tonumber(ARGV[i * 3 - 1])
  used[i] = u
  if u >= limit or u + amount > limit then ok = 0 end
end
if ok == 1 then
  for i = 1, #KEYS do
    used[i] = redis.call('INCRBY', KEYS[i], ARGV[i * 3 - 2])
    redis.call('PEXPIRE', KEYS[i], ARGV[i * 3])
  end
end
return {ok, unpack(used)}
`;

/** KEYS[i] counters; ARGV[i] delta. Missing (expired) counters stay missing; none goes below 0. */
export const ADJUST = `
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local v = redis.call('INCRBY', KEYS[i], ARGV[i])
    if v < 0 then redis.call('SET', KEYS[i], '0', 'KEEPTTL') end
  end
end
return 0
`;

/** KEYS[1] current window, KEYS[2] previous window; ARGV: cost, limit, windowMs, elapsedMs, ttlMs. Returns {allowed, previous, current}. */
export const SLIDING_TAKE = script(2, `
local cost = tonumber(ARGV[1])
local w = tonumber(ARGV[3])
local e = tonumber(ARGV[4])
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
local p = tonumber(redis.call('GET', KEYS[2]) or '0')
if p * (w - e) / w + c + cost <= tonumber(ARGV[2]) then
  c = redis.call('INCRBY', KEYS[1], cost)
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return {1, p, c}
end
return {0, p, c}
`);

/**
 * KEYS[1] baseline hash, KEYS[2] provider set, KEYS[3] endpoint set;
 * ARGV: now, bucketMs, alpha, bytes, provider, endpoint, maxDistinct, idleTtlMs, maxDecaySteps.
 * Returns {requestsBefore, bytesEwmaMilli, rateEwmaMilli, bucketsSeen, bucketCount, newProvider, newEndpoint}.
 */
export const OBSERVE_BASELINE = script(3, `
local now = tonumber(ARGV[1])
local alpha = tonumber(ARGV[3])
local bytes = tonumber(ARGV[4])
local max = tonumber(ARGV[7])
local ttl = ARGV[8]
local bucket = math.floor(now / tonumber(ARGV[2]))
local h = redis.call('HMGET', KEYS[1], 'n', 'bucket', 'count', 'rate', 'buckets', 'bytes', 'sized')
local n = tonumber(h[1] or '0')
local b, count, rate, buckets, bytesE, sized
if n == 0 then
  redis.call('DEL', KEYS[2], KEYS[3])
  b, count, rate, buckets, bytesE, sized = bucket, 0, 0, 0, 0, 0
else
  -- A baseline written before 'sized' existed had a size sample for every request.
  b, count, rate, buckets, bytesE, sized = tonumber(h[2]), tonumber(h[3]), tonumber(h[4]), tonumber(h[5]), tonumber(h[6]), tonumber(h[7] or h[1])
  if bucket > b then
    if buckets == 0 then rate = count * 1000 else rate = math.floor(alpha * (count * 1000) + (1 - alpha) * rate) end
    local gap = math.min(bucket - b - 1, tonumber(ARGV[9]))
    for i = 1, gap do rate = math.floor((1 - alpha) * rate) end
    buckets = math.min(buckets + (bucket - b), 1000000000)
    b = bucket
    count = 0
  end
end
count = count + 1
local before = bytesE
local sizedBefore = sized
-- bytes < 0: a request without a body, no size sample.
if bytes >= 0 then
  if sized == 0 then bytesE = bytes * 1000 else bytesE = math.floor(alpha * (bytes * 1000) + (1 - alpha) * bytesE) end
  sized = sized + 1
end
local function remember(key, value)
  if redis.call('SISMEMBER', key, value) == 1 then return 0 end
  if redis.call('SCARD', key) < max then redis.call('SADD', key, value) end
  return 1
end
local newP = remember(KEYS[2], ARGV[5])
local newE = remember(KEYS[3], ARGV[6])
redis.call('HSET', KEYS[1], 'n', n + 1, 'bucket', b, 'count', count, 'rate', rate, 'buckets', buckets, 'bytes', bytesE, 'sized', sized)
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ttl) end
return {n, before, rate, buckets, count, newP, newE, sizedBefore}
`);

export const RESERVE_SCRIPT = (keys: number): LuaScript => ({ ...script(keys, RESERVE), keys });
export const ADJUST_SCRIPT = (keys: number): LuaScript => ({ ...script(keys, ADJUST), keys });

/** KEYS[1] the disabled set (a hash); ARGV: member, value. 1 if the member is new. */
export const ADD_DISABLED = script(1, `
return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
`);

/** KEYS[1] the disabled set; ARGV: member. 1 if it was there. */
export const REMOVE_DISABLED = script(1, `
return redis.call('HDEL', KEYS[1], ARGV[1])
`);

/** KEYS[1] the disabled set. Member, value, member, value, … */
export const LIST_DISABLED = script(1, `
return redis.call('HGETALL', KEYS[1])
`);

/**
 * KEYS[1] a server's tool pins (a hash), KEYS[2] its last-seen values (a hash), no expiry; ARGV: maxTools, then per
 * sighting name, seen, pinIfAbsent ('' for none). Per sighting: {state, pin} with state 0 not recorded (the server
 * has maxTools names), 1 recorded, 2 recorded and pinned now; pin '' for none.
 */
export const OBSERVE_TOOL_HASHES = script(2, `
local max = tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV, 3 do
  local name = ARGV[i]
  if redis.call('HEXISTS', KEYS[2], name) == 0 and redis.call('HLEN', KEYS[2]) >= max then
    out[#out + 1] = 0
    out[#out + 1] = ''
  else
    redis.call('HSET', KEYS[2], name, ARGV[i + 1])
    local set = 0
    if ARGV[i + 2] ~= '' then set = redis.call('HSETNX', KEYS[1], name, ARGV[i + 2]) end
    out[#out + 1] = 1 + set
    out[#out + 1] = redis.call('HGET', KEYS[1], name) or ''
  end
end
return out
`);

/** KEYS[1] pins, KEYS[2] last seen; ARGV: name. {pin, seen}, '' for absent. */
export const TOOL_HASHES = script(2, `
return {redis.call('HGET', KEYS[1], ARGV[1]) or '', redis.call('HGET', KEYS[2], ARGV[1]) or ''}
`);
