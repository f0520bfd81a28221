package store

// The SyncML a queued command carries, in the store's own types. These types are the stored
// format of a command's Payload and Results: their JSON keys are what every command record
// holds, in bbolt files and PostgreSQL databases alike, since the first release (which wrote
// the SyncML codec's structs with encoding/json, hence the capitalised keys and no omitempty:
// every field is written, empty or not). So the tags are fixed: renaming, dropping or adding
// omitempty to one changes the records a database holds, and needs a new format version
// with a migration of the stored commands (store/core/migrate.go, core.FormatVersion).
// store/core's TestCommandStoredForm compares a command record byte for byte with its golden
// file.
//
// The store does not depend on the SyncML codec: the session engine converts between these
// types and the codec's (internal/payload) where it queues, sends and records commands.

// Payload is the SyncML command a queued command sends (OMA-TS-DM_Protocol §6.6): a Get,
// Add, Replace, Delete or Exec with its Items, or an Atomic or Sequence with its children in
// Commands. CmdIDs are assigned per message when it is sent; the fields a command of the
// server never sets (MsgRef, CmdRef, Cmd, TargetRef, SourceRef, Chal: those of a Status or
// Results) are kept as stored, so a record reads back as it was written.
type Payload struct {
	Verb      string    `json:"Verb"`
	CmdID     string    `json:"CmdID"`
	NoResp    bool      `json:"NoResp"`
	MsgRef    string    `json:"MsgRef"`
	CmdRef    string    `json:"CmdRef"`
	Cmd       string    `json:"Cmd"`
	TargetRef []string  `json:"TargetRef"`
	SourceRef []string  `json:"SourceRef"`
	Chal      *Chal     `json:"Chal"`
	Data      string    `json:"Data"`
	Meta      *Meta     `json:"Meta"`
	Items     []Item    `json:"Items"`
	Commands  []Payload `json:"Commands"`
}

// Item is one Item of a Payload, or one value of a Get's Results (OMA-TS-DM_Protocol
// §6.5.12): Target and Source are LocURIs; DataXML holds the inner XML of a Data element
// with child elements (e.g. a WLAN profile), Data its text otherwise.
type Item struct {
	Target   string `json:"Target"`
	Source   string `json:"Source"`
	Meta     *Meta  `json:"Meta"`
	Data     string `json:"Data"`
	DataXML  string `json:"DataXML"`
	MoreData bool   `json:"MoreData"`
}

// Meta is the Meta of a Payload or an Item (the syncml:metinf elements, OMA DM TND).
type Meta struct {
	Format     string `json:"Format"`
	Type       string `json:"Type"`
	Mark       string `json:"Mark"`
	NextNonce  string `json:"NextNonce"`
	Size       int    `json:"Size"`
	MaxMsgSize int    `json:"MaxMsgSize"`
	MaxObjSize int    `json:"MaxObjSize"`
}

// Chal is a Payload's Chal (an authentication challenge of a Status).
type Chal struct {
	Format    string `json:"Format"`
	Type      string `json:"Type"`
	NextNonce string `json:"NextNonce"`
}
