// Package wire holds the JSON request and answer types of hellomdm's admin REST API
// (/api/v1): the one definition the handlers (server/adminapi) decode and encode and the
// typed client (server/adminapi/client), the CLI and the web console use. It imports the
// standard library only, so a client of the API carries no server code.
//
// Each type's JSON is the API's wire format: testdata/*.json hold every type's encoding,
// filled and zero (TestGolden), and server/adminapi's OpenAPI golden file the schemas built
// from them, so a property renamed, dropped or made optional shows as a diff there.
package wire
