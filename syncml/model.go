package syncml

// Message is one SyncML DM message (MS-MDM 2.2.1): a header, the body's commands in wire
// order, and whether the body ended with Final.
type Message struct {
	Header Header
	// Body holds the SyncBody commands in the order they appear on the wire. Order matters:
	// Status elements are matched to commands by CmdRef, and servers answer in order.
	Body  []Command
	Final bool
}

// Header is the SyncHdr (MS-MDM 2.2.4.2). IDs are kept as the opaque strings they are on
// the wire: Windows has sent SessionIDs such as "0" and "D".
type Header struct {
	VerDTD    string
	VerProto  string
	SessionID string
	MsgID     string
	Target    string // Target/LocURI: the server URL (client→server) or DeviceID (server→client)
	Source    string // Source/LocURI: the DeviceID (client→server) or server URL
	Cred      *Cred
	Meta      *Meta // MaxMsgSize and MaxObjSize live here
}

// Cred is SyncHdr/Cred: application-level credentials (OMA DM Security §5.3).
type Cred struct {
	Format string // Meta/Format, e.g. b64
	Type   string // Meta/Type, e.g. syncml:auth-md5
	Data   string
}

// Chal is Status/Chal: an authentication challenge.
type Chal struct {
	Format    string
	Type      string
	NextNonce string
}

// Command is one SyncBody element. Which fields are meaningful depends on Verb:
//   - Alert: CmdID, Data (the alert code), Items.
//   - Status: CmdID, MsgRef, CmdRef, Cmd, TargetRef, SourceRef, Data (the status code),
//     Chal, Items.
//   - Results: CmdID, MsgRef, CmdRef, TargetRef, SourceRef, Meta, Items.
//   - Get, Add, Replace, Delete, Exec: CmdID, NoResp, Meta (command level), Items.
//   - Atomic, Sequence: CmdID, NoResp, Meta, Commands (children, in order).
type Command struct {
	Verb      string
	CmdID     string
	NoResp    bool
	MsgRef    string
	CmdRef    string
	Cmd       string
	TargetRef []string
	SourceRef []string
	Chal      *Chal
	Data      string
	Meta      *Meta
	Items     []Item
	Commands  []Command
}

// Item is one Item of a command (OMA-TS-DM_Protocol §6.5.12).
type Item struct {
	Target string // Target/LocURI
	Source string // Source/LocURI
	Meta   *Meta
	Data   string
	// DataXML is set instead of Data when the Data element holds child elements (nested XML,
	// e.g. a WLAN profile or a Status detail) rather than text: it is the inner XML, verbatim
	// enough that parse → build → parse yields the same tree.
	DataXML  string
	MoreData bool
}

// Meta is a Meta element; its children live in the syncml:metinf namespace (OMA DM TND).
type Meta struct {
	Format     string
	Type       string
	Mark       string
	NextNonce  string
	Size       int
	MaxMsgSize int
	MaxObjSize int
}
