package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/hellomdm/hellomdm/internal/consoletest"
	"github.com/hellomdm/hellomdm/store"
)

// benchPinRecovery is the seed's settings catalog profile (Enable Pin Recovery), imported
// through the admin API.
const benchPinRecovery = `{"@odata.type":"#microsoft.graph.deviceManagementConfigurationPolicy","name":"WHfB PIN recovery","platforms":"windows10","technologies":"mdm",
"settings":[{"@odata.type":"#microsoft.graph.deviceManagementConfigurationSetting","settingInstance":{
"@odata.type":"#microsoft.graph.deviceManagementConfigurationGroupSettingCollectionInstance","settingDefinitionId":"device_vendor_msft_passportforwork_{tenantid}",
"groupSettingCollectionValue":[{"children":[{"@odata.type":"#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
"settingDefinitionId":"device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery",
"choiceSettingValue":{"value":"device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery_true","children":[]}}]}]}}]}`

// seedStatusBench imports the PIN recovery profile and gives each of the n devices its
// setting state from it (one check-in each, 16 at a time): every 10th in error, every 10th
// (the next) pending, the rest succeeded. It returns the profile's ID.
func seedStatusBench(b *testing.B, e *consoletest.Env, n int) string {
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/api/v1/tenants/"+consoletest.TenantID+"/configurationPolicies", strings.NewReader(benchPinRecovery))
	req.Header.Set("Authorization", "Bearer "+consoletest.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.HTTPClient().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	var prof struct{ ID string }
	err = json.NewDecoder(resp.Body).Decode(&prof)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated || prof.ID == "" {
		b.Fatalf("importing the profile: %d %v", resp.StatusCode, err)
	}
	loc := "./Device/Vendor/MSFT/PassportForWork/" + consoletest.TenantID + "/Policies/EnablePinRecovery"
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				st := store.SettingState{LocURI: loc, Format: "bool", Value: "true", State: store.SettingSucceeded, Sources: []string{prof.ID}}
				switch i % 10 {
				case 7:
					st.State, st.ErrorCode, st.ErrorDetail = store.SettingError, 500, "500: command failed"
				case 8:
					st.State = store.SettingPending
				}
				err := e.App.Store.Checkin(context.Background(), fmt.Sprintf("dev-%06d", i), func(tx store.DeviceTx) error { return tx.PutSettingState(st) })
				if err != nil {
					mu.Lock()
					first = cmpErr(first, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		b.Fatalf("seeding setting states: %v", first)
	}
	return prof.ID
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
