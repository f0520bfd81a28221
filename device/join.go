package device

import (
	"errors"
	"fmt"

	"github.com/hellomdm/hellomdm/device/hello"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/device/internal/statefile"
)

// fileJoin keeps how the simulated device is joined (identity.JoinState): chosen at
// enrollment (hellomdm device enroll --join/--trust/--account), changed with SetJoin
// (hellomdm device join).
const fileJoin = "join.json"

// joinFile is the JSON form of JoinState: the short names of hello's Parse functions.
type joinFile struct {
	Join    string `json:"join"`
	Trust   string `json:"trust"`
	Account string `json:"account"`
}

func (a *Agent) loadJoin() error {
	var f joinFile
	ok, err := statefile.ReadJSON(a.path(fileJoin), &f)
	if err != nil {
		return fmt.Errorf("opening device state: %w", err)
	}
	if !ok {
		a.join = identity.DefaultJoinState
		return nil
	}
	var j identity.JoinState
	var errs []error
	var e error
	j.Join, e = hello.ParseJoinType(f.Join)
	errs = append(errs, e)
	j.Trust, e = hello.ParseTrustType(f.Trust)
	errs = append(errs, e)
	j.Account, e = hello.ParseAccountType(f.Account)
	errs = append(errs, e)
	if err := errors.Join(append(errs, j.Validate())...); err != nil {
		return fmt.Errorf("opening device state: %s: %w", fileJoin, err)
	}
	a.join = j
	return nil
}

// Join returns the device's join state (identity.DefaultJoinState until SetJoin).
func (a *Agent) Join() identity.JoinState {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.join
}

// SetJoin changes the device's join state; it is persisted at once, Status and the PIN
// reset flow use it from now on, and the server learns it at the next check-in.
func (a *Agent) SetJoin(j identity.JoinState) error {
	if err := j.Validate(); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := statefile.WriteJSON(a.path(fileJoin), joinFile{Join: j.Join.Name(), Trust: j.Trust.Name(), Account: j.Account.Name()}); err != nil {
		return err
	}
	a.join = j
	a.log.Info("join state changed", "join", j.Join.String(), "trust", j.Trust.String(), "account", j.Account.String())
	return nil
}
