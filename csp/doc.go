// Package csp owns what hellomdm knows about Windows configuration service providers (CSPs):
// a catalog of the nodes it manages or reads, and the device-side tree the simulated Windows
// agent executes SyncML commands against.
//
// # Catalog
//
// [Default] returns the built-in table: the PassportForWork CSP (device and user trees), the
// Policy CSP Authentication and FederatedAuthentication areas (Config and Result branches),
// DevInfo, DevDetail, DMClient and CertificateStore essentials, and hellomdm's own read-only
// reporting node ./Vendor/MSFT/hellomdm/HelloStatus, which is not a Windows CSP. Each [Node]
// records a path pattern (dynamic segments such as {TenantId} in braces), the scopes it exists
// in, its DDF format and access types, default, allowed values or range, minimum OS build and
// edition allow list, and the Intune settings-catalog ids that map onto it. Sources: the CSP
// reference pages on learn.microsoft.com (passportforwork-csp, policy-csp-authentication,
// policy-csp-federatedauthentication, devinfo-csp, devdetail-csp, dmclient-csp,
// certificatestore-csp) and hellomdm's docs/protocol.md section C.
//
// LocURIs are compared in canonical form ([Canonical]): "./Vendor/MSFT/X" and
// "./Device/Vendor/MSFT/X" name the same device node (docs/protocol.md C), "./User/..."
// is the user scope, and DevInfo/DevDetail live at "./DevInfo" and "./DevDetail" without scope.
// [Catalog.Lookup] resolves a concrete LocURI to its node and dynamic-segment values,
// [Catalog.ValidateValue] checks data against the node's format and constraints,
// [Catalog.Applicable] checks the minimum OS build and edition, and [Catalog.Suggest] proposes
// a near miss ("did you mean") for a LocURI that matches nothing.
//
// # Tree
//
// [Tree] is the device side: a persisted store of node values that executes Get, Add, Replace,
// Delete, Exec, Atomic and Sequence commands with the status codes Windows answers
// (docs/protocol.md B.6 and C.6, "Agent defaults"). [Handler]s own CSP subtrees: they supply live
// values for read-only nodes and apply side effects after a write commits; an error from a
// handler turns the command into 500 and undoes it. State is written atomically (temporary
// file, fsync, rename, fsync of the directory) after every top-level command that changed
// something, so values survive restarts.
//
// # Choices where Windows behaviour is not confirmed (docs/protocol.md G)
//
//   - Data that does not parse as the node's format answers 415; data that parses but is out of
//     range or not an allowed value answers 400 (C.6 "Agent defaults").
//   - A node whose minimum OS build is above the device's, or whose edition allow list excludes
//     the device's edition, answers 404, as if the node did not exist (C.6 "[?]").
//   - Children of a Sequence keep executing after one fails, each with its own status; inside an
//     Atomic the first failure stops execution (B.6; Sequence semantics are listed in G).
//   - A missing Meta Format means chr (OMA DM TND default), so an Add or Replace of a bool or int
//     node without Format answers 415. Interior nodes accept a missing Format on Add.
//   - Exec ignores Meta Format: the DDF format of action nodes is null while servers send the
//     argument (e.g. the ProviderID for DMClient/Unenroll) as chr.
//   - Exec side effects are not undone when an enclosing Atomic rolls back; an Add followed by
//     a Replace of the same node inside one Atomic (unsupported on Windows, B.6) is executed.
//   - Status order: a container (Atomic, Sequence) outcome comes before its children's.
package csp
