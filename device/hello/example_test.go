package hello_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/hellomdm/hellomdm/device/hello"
)

// The non-destructive reset flow: EnablePinRecovery creates a protector escrowed to the PIN
// reset service; after the user forgets the PIN, the service returns the protector and the
// agent sets a new PIN with the key pair unchanged.
func Example() {
	dir, err := os.MkdirTemp("", "ngc")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cheap := hello.WithKDFParams(hello.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1})
	service, err := rsa.GenerateKey(rand.Reader, 2048) // the PIN reset service's key
	if err != nil {
		log.Fatal(err)
	}
	const tenant = "8f1c6b5e-2d3a-4b7c-9e0f-112233445566"

	c, err := hello.Provision(dir, "alice@contoso.com", "2580", hello.PINPolicy{}, rand.Reader, cheap)
	if err != nil {
		log.Fatal(err)
	}
	u, err := c.Unlock("2580")
	if err != nil {
		log.Fatal(err)
	}
	if err := u.CreateProtector(&service.PublicKey, tenant, rand.Reader); err != nil {
		log.Fatal(err)
	}
	u.Close()
	st, _ := hello.Status(dir, "alice@contoso.com")
	fmt.Println("CanReset:", st.CanReset)

	// The service side: decrypt the escrowed protector with the agreed label, built from the
	// tenant and the UPN of the user's MFA token.
	ct, tenantID, _ := c.ProtectorCiphertext()
	plain, err := rsa.DecryptOAEP(sha256.New(), nil, service, ct, hello.ProtectorLabel(tenantID, "Alice@Contoso.com"))
	if err != nil {
		log.Fatal(err)
	}
	if err := hello.ResetWithProtector(c, plain, "7531", hello.PINPolicy{}, &service.PublicKey, rand.Reader); err != nil {
		log.Fatal(err)
	}
	_, err = c.Unlock("2580")
	fmt.Println("old PIN:", err)
	_, err = c.Unlock("7531")
	fmt.Println("new PIN unlocks:", err == nil)
	// Output:
	// CanReset: DestructiveAndNonDestructive
	// old PIN: unlocking Hello container: hello: wrong PIN (4 attempts left)
	// new PIN unlocks: true
}

func ExampleCheckSupport() {
	err := hello.CheckSupport(hello.ResetRequest{
		Join: hello.HybridJoined, Trust: hello.KeyTrust, EntryPoint: hello.AboveLock,
		Kind: hello.Destructive, Account: hello.Enterprise,
		Edition: hello.EditionEnterprise, OSVersion: "10.0.19045.3803", DCReachable: true,
	})
	fmt.Println(err)
	// Output:
	// PIN reset not supported (hybrid-key-trust-destructive-above-lock): hybrid key trust can't do destructive PIN reset above the lock screen (key sync delay); use non-destructive PIN reset above the lock screen, or destructive reset from Settings
}

// After too many wrong PINs the container is locked, even against the right PIN, until the
// PIN is reset; here destructively, since the container has no PIN reset protector.
func ExampleContainer_Unlock_lockout() {
	dir, err := os.MkdirTemp("", "ngc")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	opts := []hello.Option{
		hello.WithKDFParams(hello.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}),
		hello.WithMaxPINAttempts(3),
	}
	c, err := hello.Provision(dir, "alice@contoso.com", "2580", hello.PINPolicy{}, rand.Reader, opts...)
	if err != nil {
		log.Fatal(err)
	}
	for range 3 {
		_, err = c.Unlock("0000")
		fmt.Println(err)
	}
	_, err = c.Unlock("2580")
	fmt.Println("right PIN:", errors.Is(err, hello.ErrPINLocked))

	c, err = hello.ResetDestructive(dir, "alice@contoso.com", "7531", hello.PINPolicy{}, rand.Reader, opts...)
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.Unlock("7531")
	fmt.Println("new PIN unlocks:", err == nil)
	// Output:
	// unlocking Hello container: hello: wrong PIN (2 attempts left)
	// unlocking Hello container: hello: wrong PIN (1 attempt left)
	// unlocking Hello container: hello: wrong PIN; hello: PIN locked after too many wrong attempts; reset the PIN ("I forgot my PIN")
	// right PIN: true
	// new PIN unlocks: true
}
