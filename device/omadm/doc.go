// Package omadm is the device agent's OMA-DM client, as the Windows DMClient runs it
// (MS-MDM; docs/protocol.md B): one session (Run) posts package 1 and answers each server
// message by executing its commands through the device's csp.Tree; the DMClient state
// (poll schedule, session counter) and the CSP handlers of the nodes the client itself owns
// (DMClient, DevInfo, DevDetail) are here too. Handlers of other concerns live with them:
// CertificateStore My/WSTEP in device/certs, PassportForWork and Policy/Authentication in
// device/resetpolicy, hellomdm's HelloStatus and PinResetService in device/pinreset.
//
// Wire behaviour: POST ADDR?mode=Maintenance&Platform=WoA with User-Agent
// MSFT OMA DM Client/1.2.0.1, the Windows Accept header, an MS-CV correlation vector growing
// per request and Client-Request-Id; SessionID is a decimal counter, MsgID counts from 1,
// package 1 numbers CmdIDs from 2. The SyncHdr announces MaxMsgSize; Statuses and Results
// that do not fit go in further messages without Final, answered by the server's Alert 1222.
// A single Status or Results larger than MaxMsgSize is sent alone rather than chunked.
package omadm
