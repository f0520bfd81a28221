// Package wns is hellomdm's client of the Windows Push Notification Services (WNS), which
// wakes a real Windows device: the server sends a raw notification to the channel URI the
// device's DMClient reported (./Vendor/MSFT/DMClient/Provider/{ProviderID}/Push/ChannelURI),
// and Windows starts an OMA-DM session (docs/protocol.md C.7, MS-MDM 3.1.4).
//
// The rules it follows (docs/protocol.md C.7 states them with their sources):
//
//   - An access token comes from the token endpoint (OAuth 2.0 client credentials: the
//     tenant's package SID as client_id, its secret, scope notify.windows.com). It is cached
//     per package SID and secret until a minute before its expires_in runs out.
//   - A wake-up is a POST of a short body to the channel URI with X-WNS-Type: wns/raw,
//     Content-Type: application/octet-stream, Authorization: Bearer, and
//     X-WNS-Cache-Policy: cache, so a device that is offline gets it when it reconnects.
//   - Answers: 200 delivered; 400 ErrBadRequest; 401 or 403 drop the token, fetch a new one
//     and send once more, then ErrUnauthorized; 404 and 410 ErrChannelGone (the caller drops
//     the channel and asks the device for a new one); 406 *ThrottledError, and every send
//     with the same credentials fails fast with it until the back-off (X-WNS-CONTINUE-AFTER,
//     at least the doubling back-off) has passed; 413 ErrTooLarge; 5xx and transport errors
//     are retried with exponential back-off and jitter, then *ServerError.
//   - A channel URI is used only when ValidateChannelURI accepts it: https, no user
//     information, no fragment, port 443 (or the port an allowlist entry names), and a host
//     matching the allowlist (default *.notify.windows.com). IP literals match only an
//     entry naming that very address. The HTTP client follows no redirect, dials no
//     loopback, private or link-local address unless an allowlist entry names it, and
//     times out.
//
// The package imports the standard library only: the session engine stores what devices
// report, the assembly (server) decides when to wake whom, and this package talks to WNS.
package wns
