// The store's Lua scripts. Each runs atomically inside Redis, so taking the next
// resourceVersion, writing the object and appending its watch event happen as
// one step: no watcher can miss a change or see it twice.
//
// Keys: KEYS[1] the resourceVersion counter, KEYS[2] the kind's object hash
// (field "namespace/name" -> JSON), KEYS[3] the kind's resourceVersion hash
// (field -> rv), KEYS[4] the event stream (entry id "<rv>-0").
//
// The object's JSON comes in two halves around its resourceVersion, so the
// script can splice the new version in without decoding and re-encoding JSON
// (cjson would turn [] into {} and mangle numbers).

/** Result codes shared by the scripts and their caller. */
export const SCRIPT_RESULT = {
  notFound: 'NOTFOUND',
  exists: 'EXISTS',
  conflict: 'CONFLICT',
  /** The counter is missing: this Redis lost the store's data (see FENCE_SCRIPT). */
  noStore: 'NOSTORE',
} as const;

/**
 * ARGV: 1 op (create|update|delete), 2 field, 3 expected rv ('' = any),
 * 4 head, 5 tail, 6 max stream length, 7 group-resource, 8 namespace, 9 event type.
 * Returns the new resourceVersion, or one of SCRIPT_RESULT.
 *
 * The event carries "p", the version the object had before (0 for a create), so a
 * continued list can rebuild the state at its first page's version (src/store/history.ts).
 * A missing counter means the data is gone (an empty Redis): the script refuses
 * rather than hand out versions again from 1.
 */
export const WRITE_SCRIPT = `
local op = ARGV[1]
local field = ARGV[2]
local expected = ARGV[3]
if redis.call('EXISTS', KEYS[1]) == 0 then return '${SCRIPT_RESULT.noStore}' end
local current = redis.call('HGET', KEYS[3], field)
if op == 'create' then
  if current then return '${SCRIPT_RESULT.exists}' end
else
  if not current then return '${SCRIPT_RESULT.notFound}' end
  if expected ~= '' and expected ~= current then return '${SCRIPT_RESULT.conflict}' end
end
local rv = tostring(redis.call('INCR', KEYS[1]))
local json = ARGV[4] .. '"' .. rv .. '"' .. ARGV[5]
if op == 'delete' then
  redis.call('HDEL', KEYS[2], field)
  redis.call('HDEL', KEYS[3], field)
else
  redis.call('HSET', KEYS[2], field, json)
  redis.call('HSET', KEYS[3], field, rv)
end
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[6], rv .. '-0', 't', ARGV[9], 'g', ARGV[7], 'n', ARGV[8], 'o', json, 'p', current or '0')
return rv
`;

/** KEYS[1] counter, KEYS[2] object hash. Returns {rv, field1, json1, field2, json2, ...}. */
export const LIST_SCRIPT = `
local rv = redis.call('GET', KEYS[1]) or '1'
local all = redis.call('HGETALL', KEYS[2])
table.insert(all, 1, rv)
return all
`;

/**
 * KEYS[1] counter, KEYS[2] event stream; ARGV 1 the floor, 2 max stream length.
 * After acknowledged writes may have been lost (an everysec AOF when the host went
 * down, or a Redis that came back empty), versions must never be handed out again:
 * the counter jumps to the floor and a FENCE entry marks the jump in the stream, so a
 * watch or continue token from inside the gap finds it and gets 410 Expired.
 * Does nothing when the counter is already at or above the floor. Returns the counter.
 */
export const FENCE_SCRIPT = `
local current = redis.call('GET', KEYS[1]) or '0'
if tonumber(current) >= tonumber(ARGV[1]) then return current end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], ARGV[1] .. '-0', 't', 'FENCE', 'g', '', 'n', '', 'o', '', 'p', '0')
return ARGV[1]
`;

/** KEYS[1] lease key; ARGV 1 holder, 2 ttl ms. Takes a free lease or extends one's own. */
export const LEASE_ACQUIRE_SCRIPT = `
local h = redis.call('GET', KEYS[1])
if not h then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if h ~= ARGV[1] then return 0 end
if redis.call('PTTL', KEYS[1]) ~= -1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`;

/** KEYS[1] lease key; ARGV 1 holder, 2 ttl ms. Extends only one's own, leaves reservations permanent. */
export const LEASE_RENEW_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('PTTL', KEYS[1]) ~= -1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`;

/** KEYS[1] lease key; ARGV 1 holder. */
export const LEASE_RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`;

/** KEYS[1] lease key; ARGV 1 holder. A permanent reservation, taken if free or already one's own. */
export const LEASE_RESERVE_SCRIPT = `
local h = redis.call('GET', KEYS[1])
if h and h ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`;
