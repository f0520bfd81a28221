package wire

// ErrorBody is the JSON body of every admin API failure: {"error":{"code","message"}}.
type ErrorBody struct {
	Error Error `json:"error"`
}

// Error is what went wrong: a code a program tests, a message for people.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Target names the part of the request at fault, as Microsoft Graph's error target:
	// for an invalid profile, the setting (settingDefinitionId, displayName or OMA-URI).
	Target string `json:"target,omitempty"`
	// Suggestion is the catalog's "did you mean" for an OMA-URI that matches no node.
	Suggestion string `json:"suggestion,omitempty"`
}

// TenantDeletionConflict is the 409 answer of DELETE /tenants/{tid} while the tenant still
// has enrolled devices.
type TenantDeletionConflict struct {
	ErrorBody
	EnrolledDevices int `json:"enrolledDevices"`
}
