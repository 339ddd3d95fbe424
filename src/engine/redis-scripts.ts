/**
 * The Lua scripts of the Redis engine. Each runs atomically in Redis, so no two nodes can
 * interleave between reading the offset and writing the push (the race of a read-then-write).
 * Every key a script touches carries the room's hash tag, so in a Redis Cluster all of one
 * room's keys (and its sharded channel) live in one slot. Layout: docs/engine.md.
 */

/**
 * publish — KEYS: 1 meta (HASH e=epoch s=offset), 2 stream, 3 idempotency key (or "").
 * ARGV: 1 payload, 2 maxCount, 3 maxAgeMs, 4 metaTtlMs, 5 epoch if new, 6 channel,
 *       7 publish command (publish | spublish), 8 idempotency window ms (or ""), 9 except member id.
 * Returns { offset, epoch, duplicate (0|1) }.
 *
 * The stream entry id is "<offset>-0" (so XTRIM MINID trims by offset) with fields d=payload,
 * t=ms. The channel message is "<offset>:<epoch>:<exceptLen>:<except><payload>".
 */
export const PUBLISH_SCRIPT = `
local meta, stream, idem = KEYS[1], KEYS[2], KEYS[3]
local payload, max_count, max_age = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local meta_ttl, new_epoch, channel, command = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local window, except = ARGV[8], ARGV[9]

if window ~= "" then
  local seen = redis.call("GET", idem)
  if seen then
    local sep = string.find(seen, ":", 1, true)
    return { tonumber(string.sub(seen, 1, sep - 1)), string.sub(seen, sep + 1), 1 }
  end
end

local epoch = redis.call("HGET", meta, "e")
if not epoch then
  epoch = new_epoch
  redis.call("HSET", meta, "e", epoch)
end
local offset = redis.call("HINCRBY", meta, "s", 1)
redis.call("PEXPIRE", meta, meta_ttl)

local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if max_count > 0 then
  redis.call("XADD", stream, "MAXLEN", max_count, offset .. "-0", "d", payload, "t", now)
  -- Age: drop the oldest entries past maxAge (a few per publish; reads filter the rest).
  local oldest = redis.call("XRANGE", stream, "-", "+", "COUNT", 16)
  local keep = nil
  for _, entry in ipairs(oldest) do
    local fields = entry[2]
    local t = nil
    for i = 1, #fields, 2 do if fields[i] == "t" then t = tonumber(fields[i + 1]) end end
    if t ~= nil and t > now - max_age then keep = entry[1]; break end
  end
  if keep ~= nil then redis.call("XTRIM", stream, "MINID", keep) end
  redis.call("PEXPIRE", stream, max_age)
else
  redis.call("DEL", stream)
end

redis.call(command, channel, offset .. ":" .. epoch .. ":" .. #except .. ":" .. except .. payload)

if window ~= "" then
  redis.call("SET", idem, offset .. ":" .. epoch, "PX", window)
end
return { offset, epoch, 0 }
`;

/**
 * history — KEYS: 1 meta, 2 stream. ARGV: 1 epoch if new, 2 metaTtlMs, 3 maxAgeMs.
 * Returns { offset, epoch, { id, payload, id, payload, … } } with every kept entry younger than
 * maxAge, oldest first. The epoch is created here too when the room has none yet, so a member
 * that joins before the first push has a position that a data loss invalidates.
 */
export const HISTORY_SCRIPT = `
local meta, stream = KEYS[1], KEYS[2]
local new_epoch, meta_ttl, max_age = ARGV[1], ARGV[2], tonumber(ARGV[3])
local state = redis.call("HMGET", meta, "e", "s")
local epoch, offset = state[1], tonumber(state[2] or "0")
if not epoch then
  epoch = new_epoch
  redis.call("HSET", meta, "e", epoch)
end
redis.call("PEXPIRE", meta, meta_ttl)
local time = redis.call("TIME")
local cutoff = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) - max_age
local out = {}
for _, entry in ipairs(redis.call("XRANGE", stream, "-", "+")) do
  local fields, d, t = entry[2], nil, 0
  for i = 1, #fields, 2 do
    if fields[i] == "d" then d = fields[i + 1] elseif fields[i] == "t" then t = tonumber(fields[i + 1]) end
  end
  if t > cutoff then
    out[#out + 1] = entry[1]
    out[#out + 1] = d
  end
end
return { offset, epoch, out }
`;
