package csp

import (
	"strings"
	"testing"
)

func BenchmarkLookup(b *testing.B) {
	c := Default()
	uri := "./Vendor/MSFT/PassportForWork/" + tenant + "/Policies/PINComplexity/MinimumPINLength"
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Lookup(uri); !ok {
			b.Fatal("no match")
		}
	}
}

func BenchmarkSuggest(b *testing.B) {
	c := Default()
	for _, bc := range []struct{ name, uri string }{
		{"typical", "./Vendor/MSFT/Policy/PassportForWork/" + tenant + "/Policies/EnablePinRecovery"},
		{"worst", "./" + strings.Repeat("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstu/", 20)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.Suggest(bc.uri)
			}
		})
	}
}

func BenchmarkExecuteReplace(b *testing.B) {
	tr, err := NewTree(Default(), "", Env{})
	if err != nil {
		b.Fatal(err)
	}
	cmd := replace("2", fastURI, "int", "0")
	b.ReportAllocs()
	for b.Loop() {
		tr.Execute(cmd)
	}
}
