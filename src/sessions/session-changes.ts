/**
 * Change notices: every write to a session bumps its `version` counter and PUBLISHes the new value on the
 * session's own channel, from the Lua script that made the write. So the notice is atomic with the write
 * (no write without its notice, no notice without a write: a script that wrote nothing returns before it)
 * and costs no extra round trip. Live progress (src/events/) subscribes to the channels of the sessions it
 * streams, on every API process, whichever process (API or worker) made the write.
 */

/** The channel of one session's change notices; each message is the session's new `version`. */
export function sessionEventsChannel(prefix: string, id: string): string {
  return `${prefix}:session-events:${id}`;
}

/**
 * Lua: `bump_version()` increments the `version` of the session hash KEYS[1] (`<prefix>:session:<id>`) and
 * publishes it on `<prefix>:session-events:<id>` (the channel derived from the key, as above). Prepend it to
 * a script, and call it once after the script's write.
 */
export const BUMP_VERSION = `
local function bump_version()
  local version = redis.call('hincrby', KEYS[1], 'version', 1)
  redis.call('publish', (string.gsub(KEYS[1], ':session:([^:]+)$', ':session-events:%1')), version)
  return version
end`;
