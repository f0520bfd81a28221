// Package push wakes devices so that a policy change or a queued command reaches them in
// seconds instead of at their next scheduled check-in (docs/push.md).
//
// A Hub is one replica's registry of the devices holding hellomdm's built-in push channel on
// it, and the router of wake-ups: Hub.Wake delivers on the built-in channel when the device is
// connected to this replica, and otherwise sends the wake-up to the other replicas through
// the database they share (PostgreSQL LISTEN/NOTIFY, Options.Notifier; with bbolt there is one
// process and nothing to send) and, once, from this replica only, to the device's WNS channel
// through the WNSSender the assembly set (server/push/wns). Hub.PolicyChanged, told by the
// store after a commit that bumped a tenant's policy version, re-resolves the policy of the
// tenant's connected devices in memory (policy.Resolve on the new snapshot, compared with a
// digest of what each device resolved to before) and wakes only those whose desired state
// changed: the bump itself stays one write, and no per-device state is written. Those wake-ups
// are paced (Options.WakeRate per second) so that 10,000 devices do not start 10,000 sessions
// in the same millisecond.
//
// # The built-in channel
//
// Hub.Serve holds one long-lived HTTPS response per device: a stream of server-sent events
// (text/event-stream, the WHATWG HTML "server-sent events" format) on the server's one
// listener, the device identified by its client certificate exactly as at the OMA-DM
// endpoint. Events are "hello" (with the heartbeat period), "wake" (with the reason) and
// "ping" (the heartbeat). A streaming response was chosen over a long poll and a WebSocket:
//
//   - only the server talks on the channel (the device answers a wake-up by starting an
//     OMA-DM session on the management endpoint), so a one-way stream is all it needs;
//   - unlike a long poll it has no gap between a delivered wake-up and the next request, and
//     a wake-up costs one small write instead of a request, a response and a new request;
//   - it is plain HTTP/1.1 (or HTTP/2) that proxies and load balancers pass through when they
//     do not buffer responses (the response says X-Accel-Buffering: no), needs no protocol
//     upgrade, and needs no WebSocket implementation: the standard library serves it, and a
//     connection costs the server one goroutine, its TLS and bufio buffers and a 200-byte
//     registry entry (measured in BENCHMARKS.md).
//
// Heartbeats: a "ping" every Options.Heartbeat (default 25 s); each write has a deadline, so
// a peer that stopped reading is dropped, and the agent reconnects when it hears nothing for
// three heartbeats. A device holds one channel: a new connection of the same device replaces
// the older one at once (a device that lost its network without the server noticing comes
// back as the only holder).
package push
