// Package payload converts a queued command's SyncML between the store's stored form
// (store.Payload and store.Item, whose JSON is the stored format) and the SyncML codec's
// (syncml.Command and syncml.Item), so that neither package imports the other: the store keeps
// its records' encoding whatever the codec's structs become, and the session engine, the
// admin API and the policy plans' queueing convert here.
//
// The conversions copy: the result shares no slice or pointer with its argument, keeps nil
// and empty slices apart (as the stored JSON does: null and []) and allocates once per slice
// (of items, commands or strings) and once for the Metas of a slice of items together.
package payload

import (
	"slices"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

// ToSyncML is the codec's command for p.
func ToSyncML(p store.Payload) syncml.Command {
	c := syncml.Command{Verb: p.Verb, CmdID: p.CmdID, NoResp: p.NoResp, MsgRef: p.MsgRef, CmdRef: p.CmdRef, Cmd: p.Cmd,
		TargetRef: slices.Clone(p.TargetRef), SourceRef: slices.Clone(p.SourceRef), Data: p.Data, Items: ItemsToSyncML(p.Items)}
	if p.Chal != nil {
		ch := syncml.Chal(*p.Chal)
		c.Chal = &ch
	}
	if p.Meta != nil {
		m := syncml.Meta(*p.Meta)
		c.Meta = &m
	}
	if p.Commands != nil {
		c.Commands = make([]syncml.Command, len(p.Commands))
		for i := range p.Commands {
			c.Commands[i] = ToSyncML(p.Commands[i])
		}
	}
	return c
}

// FromSyncML is the stored form of c.
func FromSyncML(c syncml.Command) store.Payload {
	p := store.Payload{Verb: c.Verb, CmdID: c.CmdID, NoResp: c.NoResp, MsgRef: c.MsgRef, CmdRef: c.CmdRef, Cmd: c.Cmd,
		TargetRef: slices.Clone(c.TargetRef), SourceRef: slices.Clone(c.SourceRef), Data: c.Data}
	if c.Items != nil {
		p.Items = AppendStored(make([]store.Item, 0, len(c.Items)), c.Items)
	}
	if c.Chal != nil {
		ch := store.Chal(*c.Chal)
		p.Chal = &ch
	}
	if c.Meta != nil {
		m := store.Meta(*c.Meta)
		p.Meta = &m
	}
	if c.Commands != nil {
		p.Commands = make([]store.Payload, len(c.Commands))
		for i := range c.Commands {
			p.Commands[i] = FromSyncML(c.Commands[i])
		}
	}
	return p
}

// ItemsToSyncML is the codec's items for stored items (a Payload's, or a command's Results).
func ItemsToSyncML(items []store.Item) []syncml.Item {
	if items == nil {
		return nil
	}
	out := make([]syncml.Item, len(items))
	n := 0
	for i := range items {
		if items[i].Meta != nil {
			n++
		}
	}
	metas := make([]syncml.Meta, n)
	for i := range items {
		it := &items[i]
		out[i] = syncml.Item{Target: it.Target, Source: it.Source, Data: it.Data, DataXML: it.DataXML, MoreData: it.MoreData}
		if it.Meta != nil {
			metas[0] = syncml.Meta(*it.Meta)
			out[i].Meta, metas = &metas[0], metas[1:]
		}
	}
	return out
}

// AppendStored appends the stored form of items to dst (a Get's Results as they come in).
func AppendStored(dst []store.Item, items []syncml.Item) []store.Item {
	n := 0
	for i := range items {
		if items[i].Meta != nil {
			n++
		}
	}
	metas := make([]store.Meta, n)
	for i := range items {
		it := &items[i]
		s := store.Item{Target: it.Target, Source: it.Source, Data: it.Data, DataXML: it.DataXML, MoreData: it.MoreData}
		if it.Meta != nil {
			metas[0] = store.Meta(*it.Meta)
			s.Meta, metas = &metas[0], metas[1:]
		}
		dst = append(dst, s)
	}
	return dst
}
