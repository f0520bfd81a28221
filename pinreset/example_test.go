package pinreset_test

import (
	"fmt"

	"github.com/hellomdm/hellomdm/pinreset"
)

// The device encrypts its PIN reset protector with RSA-OAEP-256 under this label, so the
// ciphertext is bound to its tenant and its user (UPN lower-cased).
func ExampleLabel() {
	fmt.Printf("%s\n", pinreset.Label("5b0a7c1e-3d2f-4a6b-9c8d-0e1f2a3b4c5d", "Alice@Contoso.example"))
	fmt.Println(pinreset.AppService.DisplayName(), pinreset.AppService.AppID())
	// Output:
	// hellomdm-pin-reset:v2:5b0a7c1e-3d2f-4a6b-9c8d-0e1f2a3b4c5d:alice@contoso.example
	// Microsoft Pin Reset Service Production b8456c59-1230-44c7-a4a2-99b085333e84
}
