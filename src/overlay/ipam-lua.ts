// The Lua scripts behind the node subnet pool (src/overlay/ipam.ts). Each runs
// atomically in Redis (EVALSHA through ioredis defineCommand). They deal in
// integers only: a subnet is its index in the cluster CIDR; TypeScript turns
// those into addresses. (Pod IPs are the agents' own: src/agent/pod-ips.ts.)
//
// Keys, all under <base> = "<prefix>:ipam:<network>:":
//   leases   hash   node → "<index>:<expiresAtMs>"   (0 = permanent reservation)
//   owners   hash   index → node                      (which subnets are taken)
//   expiry   zset   node scored by expiresAtMs         (leases with a TTL only)
//   last     hash   node → index                      (outlives the lease: a node that comes back gets it again)
//   cursor   string next subnet index to try (next-fit)
//   rev      string change counter, bumped and PUBLISHed on <base>events at every lease change
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

/** Give up a node's lease. ARGV: base, node. Returns 1 if there was one. */
export const RELEASE_SUBNET_LUA = `${PRELUDE}
local node = ARGV[2]
if redis.call('HEXISTS', base .. 'leases', node) == 0 then return 0 end
drop(node)
bump()
return 1
`;
