// The Lua scripts behind the IPAM (src/overlay/ipam.ts). Each runs atomically
// in Redis (EVALSHA through ioredis defineCommand). They deal in integers
// only: a subnet is its index in the cluster CIDR, a pod IP its offset from
// the subnet's network address; TypeScript turns those into addresses.
//
// Keys, all under <base> = "<prefix>:ipam:<network>:":
//   leases   hash   node → "<index>:<expiresAtMs>"   (0 = permanent reservation)
//   owners   hash   index → node                      (which subnets are taken)
//   expiry   zset   node scored by expiresAtMs         (leases with a TTL only)
//   last     hash   node → index                      (outlives the lease: a node that comes back gets it again)
//   cursor   string next subnet index to try (next-fit)
//   rev      string change counter, bumped and PUBLISHed on <base>events at every lease change
//   ips:<i>  hash   offset → podKey                   (pod IPs handed out in subnet i)
//   pods:<i> hash   podKey → offset
//   cursor:<i> string next offset to try in subnet i
// Key names are built inside the scripts from <base>: fine for one Redis
// server (meshlet's store), not for Redis Cluster.

/** Shared helpers, prepended to the scripts that change leases. */
const PRELUDE = `
local base = ARGV[1]
local function bump()
  local r = redis.call('INCR', base .. 'rev')
  redis.call('PUBLISH', base .. 'events', r)
  return r
end
local function parse(v)
  local i, e = string.match(v, '^(%d+):(%d+)$')
  return tonumber(i), tonumber(e)
end
local function drop(node)
  local cur = redis.call('HGET', base .. 'leases', node)
  if cur then
    local idx = parse(cur)
    if redis.call('HGET', base .. 'owners', idx) == node then
      redis.call('HDEL', base .. 'owners', idx)
      redis.call('DEL', base .. 'ips:' .. idx, base .. 'pods:' .. idx, base .. 'cursor:' .. idx)
    end
  end
  redis.call('HDEL', base .. 'leases', node)
  redis.call('ZREM', base .. 'expiry', node)
end
local function reap(now)
  local expired = redis.call('ZRANGEBYSCORE', base .. 'expiry', '-inf', now)
  for _, n in ipairs(expired) do drop(n) end
  return expired
end
local function store(node, idx, exp)
  redis.call('HSET', base .. 'leases', node, idx .. ':' .. exp)
  redis.call('HSET', base .. 'owners', idx, node)
  redis.call('HSET', base .. 'last', node, idx)
  if exp == 0 then redis.call('ZREM', base .. 'expiry', node) else redis.call('ZADD', base .. 'expiry', exp, node) end
end
`;

/**
 * Lease, renew or reserve a subnet for a node.
 * ARGV: base, node, now, ttlMs (0: permanent), count, firstIndex, wantIndex (-1: none), mode (lease|renew|reserve)
 * Returns {index, expiresAt}; errors: NOLEASE (renew of a lease that is gone),
 * TAKEN <node> (reserve of a subnet another node holds), HELD <index>
 * (reserve of another subnet than the node holds), EXHAUSTED.
 * Expired leases are reaped first, so "free" always means free now.
 */
export const LEASE_LUA = `${PRELUDE}
local node = ARGV[2]
local now, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local count, first, want = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local mode = ARGV[8]
local reaped = reap(now)
if #reaped > 0 then bump() end
local exp = 0
if ttl > 0 then exp = now + ttl end
local cur = redis.call('HGET', base .. 'leases', node)
if cur then
  local idx, oldexp = parse(cur)
  if mode == 'reserve' then
    if want >= 0 and want ~= idx then return redis.error_reply('HELD ' .. idx) end
    exp = 0
  elseif oldexp == 0 then
    exp = 0
  end
  store(node, idx, exp)
  bump()
  return {idx, exp}
end
if mode == 'renew' then return redis.error_reply('NOLEASE') end
local owners = base .. 'owners'
local function free(i, lo) return i >= lo and i < count and redis.call('HEXISTS', owners, i) == 0 end
local idx = nil
if want >= 0 then
  if mode == 'reserve' then
    if want >= count then return redis.error_reply('RANGE') end
    if not free(want, 0) then return redis.error_reply('TAKEN ' .. redis.call('HGET', owners, want)) end
    idx = want
  elseif free(want, first) then
    idx = want
  end
end
if not idx then
  local l = tonumber(redis.call('HGET', base .. 'last', node))
  if l and free(l, first) then idx = l end
end
if not idx then
  local n = count - first
  if n > 0 and redis.call('HLEN', owners) < count then
    local c = tonumber(redis.call('GET', base .. 'cursor') or first)
    if c < first or c >= count then c = first end
    for k = 0, n - 1 do
      local i = first + ((c - first + k) % n)
      if free(i, first) then idx = i break end
    end
  end
  if not idx then return redis.error_reply('EXHAUSTED') end
  redis.call('SET', base .. 'cursor', idx + 1)
end
store(node, idx, exp)
bump()
return {idx, exp}
`;

/** Remove expired leases. ARGV: base, now. Returns the nodes whose lease expired. */
export const REAP_LUA = `${PRELUDE}
local reaped = reap(tonumber(ARGV[2]))
if #reaped > 0 then bump() end
return reaped
`;

/** Give up a node's lease (and its pod IPs). ARGV: base, node. Returns 1 if there was one. */
export const RELEASE_SUBNET_LUA = `${PRELUDE}
local node = ARGV[2]
if redis.call('HEXISTS', base .. 'leases', node) == 0 then return 0 end
drop(node)
bump()
return 1
`;

/**
 * Allocate (or return the already allocated) pod IP offset.
 * ARGV: base, node, podKey, now, firstOffset, lastOffset.
 * Returns {index, offset}; errors NOLEASE, EXHAUSTED <index>.
 */
export const ALLOCATE_LUA = `
local base, node, pod = ARGV[1], ARGV[2], ARGV[3]
local now, lo, hi = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local cur = redis.call('HGET', base .. 'leases', node)
if not cur then return redis.error_reply('NOLEASE') end
local i, e = string.match(cur, '^(%d+):(%d+)$')
if tonumber(e) ~= 0 and tonumber(e) <= now then return redis.error_reply('NOLEASE') end
local ips, pods, cursor = base .. 'ips:' .. i, base .. 'pods:' .. i, base .. 'cursor:' .. i
local have = redis.call('HGET', pods, pod)
if have then return {tonumber(i), tonumber(have)} end
local n = hi - lo + 1
if redis.call('HLEN', ips) >= n then return redis.error_reply('EXHAUSTED ' .. i) end
local c = tonumber(redis.call('GET', cursor) or lo)
if c < lo or c > hi then c = lo end
for k = 0, n - 1 do
  local o = lo + ((c - lo + k) % n)
  if redis.call('HSETNX', ips, o, pod) == 1 then
    redis.call('HSET', pods, pod, o)
    redis.call('SET', cursor, o + 1)
    return {tonumber(i), o}
  end
end
return redis.error_reply('EXHAUSTED ' .. i)
`;

/** Release a pod's IP. ARGV: base, node, podKey. Returns {index, offset} freed, or false. */
export const RELEASE_IP_LUA = `
local base, node, pod = ARGV[1], ARGV[2], ARGV[3]
local cur = redis.call('HGET', base .. 'leases', node)
if not cur then return false end
local i = string.match(cur, '^(%d+):')
local o = redis.call('HGET', base .. 'pods:' .. i, pod)
if not o then return false end
redis.call('HDEL', base .. 'pods:' .. i, pod)
if redis.call('HGET', base .. 'ips:' .. i, o) == pod then redis.call('HDEL', base .. 'ips:' .. i, o) end
return {tonumber(i), tonumber(o)}
`;

/** A node's lease and allocations in one consistent read. ARGV: base, node. Returns {lease or false, [offset, pod, ...]}. */
export const ALLOCATIONS_LUA = `
local base, node = ARGV[1], ARGV[2]
local cur = redis.call('HGET', base .. 'leases', node)
if not cur then return {false, {}} end
local i = string.match(cur, '^(%d+):')
return {cur, redis.call('HGETALL', base .. 'ips:' .. i)}
`;
