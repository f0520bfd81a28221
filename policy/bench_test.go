package policy

import (
	"fmt"
	"testing"

	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/policy/model"
)

// BenchmarkResolve1000Profiles10000Groups resolves one device against 1,000 assigned profiles
// and 10,000 groups (the device in 100 of them, through itself, its user and nesting).
func BenchmarkResolve1000Profiles10000Groups(b *testing.B) {
	cat := csp.Default()
	ps := model.PolicySnapshot{TenantID: tenantID, Version: 1, Members: map[string][]model.Member{}, Assignments: map[string][]model.Assignment{}, UserIDs: []string{"u1"}}
	for i := range 10000 {
		g := fmt.Sprintf("g%05d", i)
		ps.Groups = append(ps.Groups, model.Group{TenantID: tenantID, ID: g})
		switch {
		case i < 50:
			ps.Members[g] = []model.Member{{Kind: model.MemberDevice, ID: "d1"}}
		case i < 100:
			ps.Members[g] = []model.Member{{Kind: model.MemberUser, ID: "u1"}, {Kind: model.MemberGroup, ID: fmt.Sprintf("g%05d", i+5000)}}
		default:
			ps.Members[g] = []model.Member{{Kind: model.MemberDevice, ID: fmt.Sprintf("other%d", i)}}
		}
	}
	for i := range 1000 {
		id := fmt.Sprintf("p%04d", i)
		settings := []model.ProfileSetting{
			set(fmt.Sprintf("./Device/Vendor/MSFT/Policy/Config/Area%d/Setting%d", i%50, i), "int", "1"),
		}
		if i%100 == 0 {
			settings = append(settings, set(pinURI, "bool", "true"), set(webURI, "chr", "login.contoso.com"))
		}
		ps.Profiles = append(ps.Profiles, model.Profile{TenantID: tenantID, ID: id, Settings: settings})
		ps.Assignments[id] = []model.Assignment{grp(fmt.Sprintf("g%05d", (i*7)%10000)), excl(fmt.Sprintf("g%05d", (i*13+1)%10000))}
	}
	snap := NewSnapshot(ps, cat)
	d := dev("d1", "u1")
	b.ReportAllocs()
	b.ResetTimer()
	var res Result
	for b.Loop() {
		res = Resolve(snap, cat, d)
	}
	b.ReportMetric(float64(len(res.Desired)), "desired/op")
}
