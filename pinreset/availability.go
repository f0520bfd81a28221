package pinreset

// The PIN reset service's availability to a tenant's devices, in the values of hellomdm's
// ./Vendor/MSFT/hellomdm/PinResetService/Availability node (the session engine tells a
// device the truth there, server/omadm; the admin API corrects a device's reported CanReset
// with it, server/adminapi). The service needs an admin's consent to both enterprise
// applications and is not offered in Azure Government (Learn "PIN reset").
const (
	AvailabilityAvailable       = "available"
	AvailabilityConsentRequired = "consentRequired"
	AvailabilityGovernmentCloud = "governmentCloud"
)

// Availability is the service's availability to a tenant in a government cloud or not, with
// or without the consent to each of its two applications. Government cloud decides first.
func Availability(govCloud, serviceConsented, clientConsented bool) string {
	switch {
	case govCloud:
		return AvailabilityGovernmentCloud
	case !serviceConsented || !clientConsented:
		return AvailabilityConsentRequired
	}
	return AvailabilityAvailable
}
