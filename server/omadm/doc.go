// Package omadm is hellomdm's OMA-DM session engine (MS-MDM; OMA-TS-DM_Protocol-V1_2_1): it
// takes one verified client message, records what it answers, plans what goes out next with
// the policy engine (PolicyHook) and builds the reply. It knows nothing of HTTP, TLS or the
// admin API; server verifies the client certificate and hands it a Request.
//
// # Check-in
//
// A device is identified by the TLS client certificate it presents (issued by our CA at
// enrollment), never by what its message claims: the SyncML Source LocURI must equal the
// certificate's device, and the device must be enrolled with that certificate. Each client
// message is handled in one store transaction (store.Checkins): statuses and results are
// recorded against the queued commands they answer, DevInfo/DevDetail and alerts are recorded,
// the next commands that fit the client's MaxMsgSize are claimed, and the reply is built. The
// reply is written only after that transaction has committed, so a device that gets no reply
// loses nothing: it retries and the same commands are sent again.
//
// Nothing about a session lives in process memory between requests: several replicas can serve
// one fleet.
package omadm
