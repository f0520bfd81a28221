package console

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
)

const seedSetting = "device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery"

func seedDraft() draft {
	return draft{Kind: kindCatalog, Name: "WHfB - Enable PIN recovery", Description: "Windows Hello for Business: non-destructive PIN reset",
		ScopeTags: "0", Settings: []draftSetting{{ID: seedSetting, Kind: "choice", Group: "device_vendor_msft_passportforwork_{tenantid}",
			Value: seedSetting + "_true"}}}
}

// The wizard's document for the seed's one setting is the seed's Intune export.
func TestCatalogDocIsTheSeed(t *testing.T) {
	raw, err := os.ReadFile("../../examples/policy/whfb-pin-recovery.settings-catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	d := seedDraft()
	doc, ok := d.catalogDoc()
	if !ok {
		t.Fatalf("catalogDoc refused the seed: %+v", d.Settings)
	}
	var want, got map[string]any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(doc, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the wizard's document\n%s\nis not the seed\n%s", doc, raw)
	}
	// Read back for editing, it is the same draft.
	back, err := draftFromProfile(adminclient.Profile{Raw: doc}, adminclient.SettingsCatalog, nil)
	if err != nil || len(back.Settings) != 1 || back.Settings[0].ID != seedSetting || back.Settings[0].Value != seedSetting+"_true" ||
		back.Settings[0].Group != d.Settings[0].Group || back.Name != d.Name || back.ScopeTags != "0" {
		t.Fatalf("read back: %+v, %v", back, err)
	}
}

// Values a setting's instance cannot carry stop at the form; the rest is the API's to judge.
func TestSettingInstances(t *testing.T) {
	cases := []struct {
		kind, value string
		ok          bool
		want        string // the instance's JSON
	}{
		{"choice", "x_true", true, `{"@odata.type":"` + odataChoice + `","choiceSettingValue":{"@odata.type":"` + odataChoiceValue + `","children":[],"value":"x_true"},"settingDefinitionId":"x"}`},
		{"integer", " 6 ", true, `{"@odata.type":"` + odataSimple + `","settingDefinitionId":"x","simpleSettingValue":{"@odata.type":"` + odataIntegerValue + `","value":6}}`},
		{"integer", "six", false, ""},
		{"integer", "", false, ""},
		{"string", "contoso.com", true, `{"@odata.type":"` + odataSimple + `","settingDefinitionId":"x","simpleSettingValue":{"@odata.type":"` + odataStringValue + `","value":"contoso.com"}}`},
		{"stringCollection", "a.com; b.com\n\nc.com", true, `{"@odata.type":"` + odataSimpleColl + `","settingDefinitionId":"x","simpleSettingCollectionValue":[` +
			`{"@odata.type":"` + odataStringValue + `","value":"a.com"},{"@odata.type":"` + odataStringValue + `","value":"b.com"},{"@odata.type":"` + odataStringValue + `","value":"c.com"}]}`},
	}
	for _, tc := range cases {
		s := draftSetting{ID: "x", Kind: tc.kind, Value: tc.value}
		in, ok := s.instance()
		if ok != tc.ok || ok == (s.Err != "") {
			t.Errorf("%s %q: ok %v, err %q", tc.kind, tc.value, ok, s.Err)
			continue
		}
		if got, _ := json.Marshal(in); ok && string(got) != tc.want {
			t.Errorf("%s %q:\n got %s\nwant %s", tc.kind, tc.value, got, tc.want)
		}
	}
}

// Custom rows carry Graph's value types; text that is not one goes as typed, for the API to
// refuse with its own message.
func TestOMAValues(t *testing.T) {
	cases := []struct {
		typ, value string
		want       any
	}{
		{"Integer", " 42 ", int64(42)},
		{"Integer", "forty", "forty"},
		{"Boolean", "TRUE", true},
		{"Boolean", "1", "1"},
		{"FloatingPoint", "1.5", 1.5},
		{"String", " spaced ", " spaced "},
		{"StringXml", "<a/>", "PGEvPg=="},
	}
	for _, tc := range cases {
		if got := omaJSONValue(tc.typ, tc.value); got != tc.want {
			t.Errorf("%s %q: %#v, want %#v", tc.typ, tc.value, got, tc.want)
		}
	}
}

// The draft comes from the form: whatever it holds, reading it and building its document
// neither panics nor loops.
func FuzzDraft(f *testing.F) {
	f.Add(seedDraft().encode(), []byte(`{"settingInstance":{"settingDefinitionId":"g","groupSettingCollectionValue":[{"children":[{"settingDefinitionId":"c","choiceSettingValue":{"value":"c_true"}}]}]}}`))
	f.Add(`{"kind":"custom","rows":[{"type":"StringXml","value":"<x/>"}]}`, []byte(`{}`))
	f.Fuzz(func(t *testing.T, form string, instance []byte) {
		d, err := decodeDraft(form)
		if err == nil {
			d.remove("0")
			d.useSuggestion("0:./Device/x")
			_, _, _ = d.document()
			_ = d.assignments()
			_ = d.placeError(&adminclient.Error{Target: "x", Message: "setting x: bad (did you mean y?)", Suggestion: "y"})
		}
		_ = leaves(instance, "", nil, 0)
		_, _ = draftFromProfile(adminclient.Profile{Raw: instance}, adminclient.SettingsCatalog, nil)
		_, _ = draftFromProfile(adminclient.Profile{Raw: instance}, adminclient.CustomOMAURI, nil)
	})
}
