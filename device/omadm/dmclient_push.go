package omadm

import (
	"strconv"
	"strings"
)

// Push/Status values the agent answers (dmclient-csp; docs/protocol.md C.7).
const (
	// PushStatusSuccess: a channel URI is registered for the PFN.
	PushStatusSuccess = 0
	// PushStatusNoChannel: "no Channel URI assigned". The agent answers it while a PFN is set
	// and it has no WNS client to register a channel with (Options.WNSChannel unset, or it
	// gave none): what a Windows device answers when the notification platform gave it no
	// channel for the PFN.
	PushStatusNoChannel = 4
)

// PushState is the agent's view of DMClient Provider/{ProviderID}/Push: the PFN the server
// set, and the channel URI its WNS client obtained for it ("" none).
type PushState struct {
	PFN        string
	ChannelURI string
}

// pushLeaf returns the leaf under Provider/{provider}/Push/ a URI names.
func pushLeaf(uri string) (provider, leaf string, ok bool) {
	rest, ok := strings.CutPrefix(uri, DMClientRoot+"/Provider/")
	if !ok {
		return "", "", false
	}
	provider, rest, ok = strings.Cut(rest, "/")
	if !ok {
		return "", "", false
	}
	leaf, ok = strings.CutPrefix(rest, "Push/")
	return provider, leaf, ok
}

// pushGet answers Push/ChannelURI and Push/Status live. Without a PFN neither has a value
// (404, as on Windows before push is configured); with one, ChannelURI is the channel the
// WNS client obtained (404 when none) and Status 0 or 4.
func (h DMClientHandler) pushGet(uri string) (string, bool) {
	provider, leaf, ok := pushLeaf(uri)
	if !ok || h.Push == nil || (leaf != "ChannelURI" && leaf != "Status") {
		return "", false
	}
	st, ok := h.Push(provider)
	if !ok || st.PFN == "" {
		return "", false
	}
	if leaf == "ChannelURI" {
		return st.ChannelURI, st.ChannelURI != ""
	}
	if st.ChannelURI == "" {
		return strconv.Itoa(PushStatusNoChannel), true
	}
	return strconv.Itoa(PushStatusSuccess), true
}
