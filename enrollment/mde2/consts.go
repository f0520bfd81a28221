package mde2

// XML namespaces (MS-MDE2 2.2.1, MS-XCEP 2.2, MS-WSTEP 2.2, WS-Security 1.0).
const (
	NSSOAP12      = "http://www.w3.org/2003/05/soap-envelope"
	NSSOAP11      = "http://schemas.xmlsoap.org/soap/envelope/"
	NSAddressing  = "http://www.w3.org/2005/08/addressing"
	NSWSSE        = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	NSWSU         = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	NSXSI         = "http://www.w3.org/2001/XMLSchema-instance"
	NSDiscovery   = "http://schemas.microsoft.com/windows/management/2012/01/enrollment"
	NSPolicy      = "http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy"
	NSWSTrust     = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
	NSPKIEnroll   = "http://schemas.microsoft.com/windows/pki/2009/01/enrollment"
	NSAuthContext = "http://schemas.xmlsoap.org/ws/2006/12/authorization"
)

// SOAP actions (wsa:Action): MS-MDE2 3.1.4.1 Discover, MS-XCEP 3.1.4.1 GetPolicies,
// MS-WSTEP 3.1.4.1 RequestSecurityToken, and their responses.
const (
	ActionDiscover            = NSDiscovery + "/IDiscoveryService/Discover"
	ActionDiscoverResponse    = NSDiscovery + "/IDiscoveryService/DiscoverResponse"
	ActionGetPolicies         = NSPolicy + "/IPolicy/GetPolicies"
	ActionGetPoliciesResponse = NSPolicy + "/IPolicy/GetPoliciesResponse"
	ActionRST                 = NSPKIEnroll + "/RST/wstep"
	ActionRSTRC               = NSPKIEnroll + "/RSTRC/wstep"
)

// WS-Addressing and WS-Security values of the header.
const (
	// AddressAnonymous is the a:ReplyTo address every client request names.
	AddressAnonymous = NSAddressing + "/anonymous"
	// ValueTypeUserToken is the BinarySecurityToken of Federated authentication
	// (MS-MDE2 3.3.4.1.1.1): the opaque token of the sign-in page, base64.
	ValueTypeUserToken = "http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentUserToken"
	// PasswordTypeText is the only UsernameToken password type MS-MDE2 uses (clear text).
	PasswordTypeText = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
	// EncodingTypeBase64Binary is the EncodingType of every BinarySecurityToken.
	EncodingTypeBase64Binary = NSWSSE + "#base64binary"
	// WindowsUsernameTokenID is the literal u:Id Windows puts on its UsernameToken.
	WindowsUsernameTokenID = "uuid-cc1ccc1f-2fba-4bcf-b063-ffc0cac77917-4"
)

// WS-Trust and MS-WSTEP values of a RequestSecurityToken and its response (MS-MDE2
// 3.4.4.1.1.1; 3.5.4.1.1.1 for renewal).
const (
	TokenTypeDeviceEnrollment = "http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentToken"
	TokenTypeProvisionDoc     = "http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentProvisionDoc"
	RequestTypeIssue          = NSWSTrust + "/Issue"
	RequestTypeRenew          = NSWSTrust + "/Renew"
	ValueTypePKCS10           = NSPKIEnroll + "#PKCS10"
	// ValueTypePKCS7 wraps the PKCS#10 in CMS SignedData; only a renewal uses it.
	ValueTypePKCS7 = NSPKIEnroll + "#PKCS7"
)

// ContentTypeSOAP is the HTTP Content-Type of every MS-MDE2 request and response.
const ContentTypeSOAP = "application/soap+xml; charset=utf-8"

// Authentication policies (MS-MDE2 3.1.4.1.3.2, DiscoverResponse AuthPolicy).
const (
	AuthPolicyOnPremise = "OnPremise"
	AuthPolicyFederated = "Federated"
)

// EnrollmentType values of the RST AdditionalContext (MS-MDE2 3.4.4.1.1.1).
const (
	EnrollmentTypeFull   = "Full"   // user enrollment: client certificate in My/User
	EnrollmentTypeDevice = "Device" // device-only: client certificate in My/System
)

// Fault codes and subcodes (MS-MDE2 2.2.10). The prefix is part of the value: s is the
// SOAP 1.2 envelope namespace, a the WS-Addressing namespace, both declared on every
// response envelope.
const (
	CodeSender   = "s:Sender"
	CodeReceiver = "s:Receiver"

	SubcodeMessageFormat        = "s:MessageFormat"        // MENROLL_E_DEVICE_MESSAGE_FORMAT_ERROR 0x80180001
	SubcodeAuthentication       = "s:Authentication"       // MENROLL_E_DEVICE_AUTHENTICATION_ERROR 0x80180002
	SubcodeAuthorization        = "s:Authorization"        // MENROLL_E_DEVICE_AUTHORIZATION_ERROR 0x80180003
	SubcodeCertificateRequest   = "s:CertificateRequest"   // MENROLL_E_DEVICE_CERTIFCATEREQUEST_ERROR 0x80180004
	SubcodeEnrollmentServer     = "s:EnrollmentServer"     // MENROLL_E_DEVICE_CONFIGMGRSERVER_ERROR 0x80180005
	SubcodeInternalServiceFault = "a:InternalServiceFault" // MENROLL_E_DEVICE_INTERNALSERVICE_ERROR 0x80180006
	SubcodeInvalidSecurity      = "a:InvalidSecurity"      // MENROLL_E_DEVICE_INVALIDSECURITY_ERROR 0x80180007
)

// Detail error types carried in s:Detail/DeviceEnrollmentServiceError/ErrorType
// (MS-MDE2 2.2.10, second table).
const (
	ErrorTypeDeviceNotSupported    = "DeviceNotSupported"
	ErrorTypeNotSupported          = "NotSupported"
	ErrorTypeNotEligibleToRenew    = "NotEligibleToRenew"
	ErrorTypeInvalidEnrollmentData = "InvalidEnrollmentData"
	ErrorTypeInMaintenance         = "InMaintenance"
)

// Limits on untrusted input.
const (
	// MaxRequestBytes bounds a request envelope (the server reads no more).
	MaxRequestBytes = 256 << 10
	// MaxResponseBytes bounds a response envelope (the agent reads no more).
	MaxResponseBytes = 512 << 10
	// MaxDepth bounds element nesting; the deepest real message (an RST) nests 6 deep.
	MaxDepth = 32
	// MaxFieldLen bounds any single text value the codec keeps.
	MaxFieldLen = 1024
	// MaxAuthPolicies bounds the AuthPolicy values of a Discover request.
	MaxAuthPolicies = 8
	// MaxContextItems bounds an RST AdditionalContext; Windows sends about 15 plus one per
	// network adapter.
	MaxContextItems = 128
	// MaxProvisioningDocBytes bounds a decoded wap-provisioningdoc.
	MaxProvisioningDocBytes = 256 << 10
)
