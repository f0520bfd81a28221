package pinreset

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/hellomdm/hellomdm/internal/route"
)

// maxBodyBytes caps a decrypt request body; a protector ciphertext is at most 1 KiB.
const maxBodyBytes = 64 << 10

// PublicKeyResponse is the body of GET /pinreset/v1/tenants/{tid}/publickey.
type PublicKeyResponse struct {
	TenantID string `json:"tenantId"`
	// KeyID is KeyID(public key): hex SHA-256 of PublicKeyDER.
	KeyID string `json:"keyId"`
	// PublicKeyDER is the SubjectPublicKeyInfo DER (standard base64 on the wire).
	PublicKeyDER []byte `json:"publicKeyDer"`
	Algorithm    string `json:"algorithm"` // Algorithm
	// LabelPrefix is TenantLabelPrefix(TenantID): the OAEP label of a user's protector is
	// this followed by the user's lower-cased UPN (Label).
	LabelPrefix string `json:"labelPrefix"`
}

// DecryptBody is the body of POST /pinreset/v1/tenants/{tid}/decrypt.
type DecryptBody struct {
	Ciphertext []byte `json:"ciphertext"` // standard base64 on the wire
}

// DecryptResponse is the answer to a successful decrypt.
type DecryptResponse struct {
	Protector []byte `json:"protector"` // standard base64 on the wire
}

// ErrorBody is every refusal's body: {"error":{"code":"…","message":"…"}}. Codes:
// unknown_tenant (404), service_unavailable (503), consent_required, wrong_tenant,
// mfa_required, client_certificate_required, device_not_enrolled, device_retired,
// device_wrong_tenant (403), invalid_token, token_expired, token_replayed (401), bad_request, bad_ciphertext,
// bad_protector (400), internal_error (500).
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inner object of ErrorBody.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Handler returns the HTTP adapter; mount it at /pinreset/ without stripping the prefix.
func (s *Service) Handler() http.Handler {
	r := route.NewRouter()
	r.HandleFunc("/pinreset/v1/tenants/{tid}/publickey", s.handlePublicKey).Methods(route.GET...)
	r.HandleFunc("/pinreset/v1/tenants/{tid}/decrypt", s.handleDecrypt).Methods(http.MethodPost)
	return r
}

func (s *Service) handlePublicKey(w http.ResponseWriter, r *http.Request) {
	tid := mux.Vars(r)["tid"]
	pub, err := s.PublicKey(r.Context(), tid)
	if err != nil {
		s.writeError(w, err)
		return
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		s.writeError(w, fmt.Errorf("encoding public key of tenant %q: %w", tid, err))
		return
	}
	keyID, err := KeyID(pub)
	if err != nil {
		s.writeError(w, err)
		return
	}
	s.writeJSON(w, http.StatusOK, PublicKeyResponse{
		TenantID: tid, KeyID: keyID, PublicKeyDER: der, Algorithm: Algorithm, LabelPrefix: TenantLabelPrefix(tid),
	})
}

func (s *Service) handleDecrypt(w http.ResponseWriter, r *http.Request) {
	tid := mux.Vars(r)["tid"]
	deviceID, err := s.deviceID(r)
	if err != nil {
		err := fmt.Errorf("reading client certificate: %w", err)
		s.record(r.Context(), AuditRecord{TenantID: tid, Operation: OpDecrypt}, err)
		s.writeError(w, err)
		return
	}
	ciphertext, err := readDecryptBody(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		s.record(r.Context(), AuditRecord{TenantID: tid, DeviceID: deviceID, Operation: OpDecrypt}, err)
		s.writeError(w, err)
		return
	}
	protector, err := s.Decrypt(r.Context(), DecryptRequest{
		TenantID: tid, DeviceID: deviceID, Token: bearerToken(r.Header.Get("Authorization")), Ciphertext: ciphertext,
	})
	if err != nil {
		s.writeError(w, err)
		return
	}
	defer clear(protector)
	s.writeJSON(w, http.StatusOK, DecryptResponse{Protector: protector})
}

// readDecryptBody reads a DecryptBody and returns its ciphertext.
func readDecryptBody(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, fmt.Errorf("reading body: larger than %d bytes: %w", maxBodyBytes, ErrBadRequest)
		}
		return nil, fmt.Errorf("reading body: %w: %w", ErrBadRequest, err)
	}
	return parseDecryptBody(data)
}

// parseDecryptBody decodes a DecryptBody; unknown fields are ignored, trailing data is not.
func parseDecryptBody(data []byte) ([]byte, error) {
	var body DecryptBody
	if err := json.Unmarshal(data, &body); err != nil {
		return nil, fmt.Errorf("decoding body: %w: %w", ErrBadRequest, err)
	}
	if len(body.Ciphertext) == 0 {
		return nil, fmt.Errorf("decoding body: ciphertext missing: %w", ErrBadRequest)
	}
	return body.Ciphertext, nil
}

// bearerToken extracts the token of an RFC 6750 section 2.1 Authorization header; the scheme
// is case-insensitive (RFC 9110 section 11.1). It returns "" for anything else.
func bearerToken(header string) string {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	token = strings.TrimLeft(token, " ")
	if token == "" || strings.ContainsAny(token, " \t\r\n") {
		return ""
	}
	return token
}

// errorStatus maps an error to its HTTP status, code and client-facing message. Internal
// failures get a generic message; their detail goes to the audit record and the log only.
func errorStatus(err error) (int, string, string) {
	var consent *ConsentRequiredError
	if errors.As(err, &consent) {
		return http.StatusForbidden, "consent_required", consent.Error()
	}
	for _, m := range []struct {
		err    error
		status int
		code   string
	}{
		{ErrUnknownTenant, http.StatusNotFound, "unknown_tenant"},
		{ErrServiceUnavailable, http.StatusServiceUnavailable, "service_unavailable"},
		{ErrTemporarilyUnavailable, http.StatusServiceUnavailable, "temporarily_unavailable"},
		{ErrTokenExpired, http.StatusUnauthorized, "token_expired"},
		{ErrTokenReplayed, http.StatusUnauthorized, "token_replayed"},
		{ErrTokenInvalid, http.StatusUnauthorized, "invalid_token"},
		{ErrWrongTenant, http.StatusForbidden, "wrong_tenant"},
		{ErrMFARequired, http.StatusForbidden, "mfa_required"},
		{ErrNoClientCert, http.StatusForbidden, "client_certificate_required"},
		{ErrDeviceNotEnrolled, http.StatusForbidden, "device_not_enrolled"},
		{ErrDeviceRetired, http.StatusForbidden, "device_retired"},
		{ErrDeviceWrongTenant, http.StatusForbidden, "device_wrong_tenant"},
		{ErrBadRequest, http.StatusBadRequest, "bad_request"},
		{ErrBadCiphertext, http.StatusBadRequest, "bad_ciphertext"},
		{ErrBadProtector, http.StatusBadRequest, "bad_protector"},
	} {
		if errors.Is(err, m.err) {
			return m.status, m.code, m.err.Error()
		}
	}
	return http.StatusInternalServerError, "internal_error", "internal error"
}

func (s *Service) writeError(w http.ResponseWriter, err error) {
	status, code, msg := errorStatus(err)
	if code == "temporarily_unavailable" {
		w.Header().Set("Retry-After", strconv.Itoa(int(UnavailableRetryAfter.Seconds())))
	}
	if status == http.StatusUnauthorized {
		// RFC 6750 section 3.
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	s.writeJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: msg}})
}

// writeJSON writes v with Cache-Control: no-store and clears the encoded bytes afterwards,
// since a DecryptResponse carries the protector.
func (s *Service) writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		s.log.Error("encoding response", "error", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":{"code":"internal_error","message":"internal error"}}` + "\n")
	}
	defer clear(buf.Bytes())
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if _, err := w.Write(buf.Bytes()); err != nil {
		s.log.Debug("writing response", "error", err)
	}
}
