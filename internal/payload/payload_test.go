package payload

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

// fill sets every field of the struct v points to, recursively, to a value derived from
// seed: strings, bools and ints non-zero, pointers to filled structs, slices of two filled
// elements (one level of nested commands), so that a field a conversion drops shows.
func fill(v reflect.Value, seed *int, depth int) {
	*seed++
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + strconv.Itoa(*seed))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int:
		v.SetInt(int64(*seed))
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), seed, depth)
	case reflect.Slice:
		if depth > 1 {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0)) // empty, not nil: kept apart
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(v.Index(i), seed, depth+1)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), seed, depth)
		}
	default:
		panic("fill: unexpected kind " + v.Kind().String())
	}
}

func filledCommand() syncml.Command {
	var c syncml.Command
	seed := 0
	fill(reflect.ValueOf(&c).Elem(), &seed, 0)
	return c
}

// Every field of the codec's command survives the stored form and back, nil and empty
// slices stay apart, and the stored form is what the codec's fields say.
func TestRoundTrip(t *testing.T) {
	c := filledCommand()
	p := FromSyncML(c)
	if got := ToSyncML(p); !reflect.DeepEqual(got, c) {
		t.Fatalf("ToSyncML(FromSyncML(c)) =\n%+v\nwant\n%+v", got, c)
	}
	if p.Commands[1].Items[0].Meta.MaxObjSize != c.Commands[1].Items[0].Meta.MaxObjSize || p.Chal.NextNonce != c.Chal.NextNonce ||
		p.Items[1].DataXML != c.Items[1].DataXML || p.Commands[0].Commands[1].Items == nil || len(p.Commands[0].Commands[1].Items) != 0 {
		t.Errorf("FromSyncML = %+v", p)
	}
	for _, c := range []syncml.Command{{}, {Verb: syncml.VerbGet, Items: []syncml.Item{{Target: "./a"}, {Target: "./b", Meta: &syncml.Meta{Format: "int"}}}}} {
		if got := ToSyncML(FromSyncML(c)); !reflect.DeepEqual(got, c) {
			t.Errorf("round trip of %+v = %+v", c, got)
		}
	}
	items := c.Commands[0].Items
	if got := ItemsToSyncML(AppendStored(nil, items)); !reflect.DeepEqual(got, items) {
		t.Errorf("items round trip = %+v, want %+v", got, items)
	}
	if ItemsToSyncML(nil) != nil || AppendStored(nil, nil) != nil {
		t.Error("no items should convert to nil")
	}
}

// The conversions copy: changing what one returned changes nothing in its argument.
func TestNoSharing(t *testing.T) {
	c := filledCommand()
	want := filledCommand()
	p := FromSyncML(c)
	p.TargetRef[0], p.Chal.Type, p.Meta.Size, p.Items[0].Meta.Format, p.Commands[0].Items[1].Data = "x", "x", -1, "x", "x"
	if !reflect.DeepEqual(c, want) {
		t.Fatal("FromSyncML's result shares memory with its argument")
	}
	back := FromSyncML(c)
	s := ToSyncML(back)
	s.SourceRef[1], s.Chal.Format, s.Meta.Type, s.Items[1].Meta.Mark, s.Commands[1].Verb = "x", "x", "x", "x", "x"
	if !reflect.DeepEqual(back, FromSyncML(want)) {
		t.Fatal("ToSyncML's result shares memory with its argument")
	}
	r := AppendStored(nil, c.Items)
	r[0].Meta.NextNonce = "x"
	if !reflect.DeepEqual(c, want) {
		t.Fatal("AppendStored's result shares memory with its argument")
	}
}

// The stored types hold every field of the codec's, under the same name and of the same
// kind: a field the codec gains must be given a stored form (a format change, see
// store.Payload) before it can be queued.
func TestSameFields(t *testing.T) {
	pairs := []struct{ stored, codec reflect.Type }{
		{reflect.TypeFor[store.Payload](), reflect.TypeFor[syncml.Command]()},
		{reflect.TypeFor[store.Item](), reflect.TypeFor[syncml.Item]()},
		{reflect.TypeFor[store.Meta](), reflect.TypeFor[syncml.Meta]()},
		{reflect.TypeFor[store.Chal](), reflect.TypeFor[syncml.Chal]()},
	}
	for _, p := range pairs {
		if p.stored.NumField() != p.codec.NumField() {
			t.Errorf("%v has %d fields, %v %d", p.stored, p.stored.NumField(), p.codec, p.codec.NumField())
			continue
		}
		for i := range p.codec.NumField() {
			s, c := p.stored.Field(i), p.codec.Field(i)
			if s.Name != c.Name || s.Type.Kind() != c.Type.Kind() {
				t.Errorf("%v field %d is %s %v, %v's is %s %v", p.stored, i, s.Name, s.Type, p.codec, c.Name, c.Type)
			}
		}
	}
}

// Converting the command the engine sends most (one item with a Meta) allocates the items
// and their Metas once each.
func TestAllocs(t *testing.T) {
	p := store.Payload{Verb: syncml.VerbReplace, Items: []store.Item{{Target: "./Device/Vendor/MSFT/X", Meta: &store.Meta{Format: "int"}, Data: "1"}}}
	var sink syncml.Command
	if n := testing.AllocsPerRun(100, func() { sink = ToSyncML(p) }); n != 2 {
		t.Errorf("ToSyncML allocates %v times, want 2", n)
	}
	_ = sink
}
