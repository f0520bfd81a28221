// Package gpo brings Group Policy into hellomdm: it reads a GPO in any of the four forms
// administrators have one in, maps every Windows Hello for Business administrative template
// setting to its MDM node, and builds an Intune custom (OMA-URI) profile from the settings
// MDM supports, in the manner of Intune's Group Policy analytics.
//
// # Inputs
//
//   - a GPMC backup folder ([ParseBackupFS], or [ParseBackupZip] for the folder zipped),
//   - a Get-GPOReport -ReportType Xml report ([ParseReport]; UTF-16 with a BOM as written),
//   - a bare registry.pol ([ParseRegistryPol]; the PReg format, version 1),
//   - an LGPO text export ([ParseLGPOText]; LGPO.exe /parse output).
//
// [Parse] recognises an uploaded file by its content. Every parser is fuzzed; a file that
// does not parse is a *[ParseError] naming the file and the byte offset or line, and yields
// nothing.
//
// # Rules real GPOs need
//
// A policy that is not configured writes nothing, so it is absent from the report; it is
// never turned into false. registry.pol's **del., **delvals., **DeleteValues and
// **DeleteKeys entries and LGPO's DELETE, DELETEALLVALUES and CREATEKEY lines are
// instructions: they remove earlier values of the same file and are listed apart, never
// mapped. A registry.pol of only its 8-byte header is a valid empty policy. An empty
// multi-string stays an empty list. The Computer (machine) and User halves are kept apart;
// a user-half setting maps to a ./User/... node where the CSP has one and is reported as not
// supported otherwise.
//
// # Mapping
//
// The table (table.go) is keyed on registry key and value name, cites the ADMX file and the
// CSP documentation page of each row, and is checked against the csp catalog; every value
// is validated against its node ([csp.Catalog.ValidateValue]) before a row is called
// supported. The package imports csp only (not policy, server or store).
package gpo
