package enrollment

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

// reply is an operation's answer: the Body, and whether the header carries a wsse:Security
// timestamp (RSTR, MS-WSTEP 3.1.4.1.2.2).
type reply struct {
	body      mde2.Body
	timestamp bool
}

type operation func(ctx context.Context, r *http.Request, env *mde2.Envelope) (reply, error)

// serveSOAP reads a bounded body, decodes the envelope, checks the action, runs op and
// writes either its reply or a SOAP fault, always buffered with Content-Length (enrollment
// responses must not be chunked).
func (s *Service) serveSOAP(w http.ResponseWriter, r *http.Request, wantAction, respAction string, op operation) {
	start := s.cfg.Now()
	traceID := s.traceID()
	log := s.log.With("path", r.URL.Path, "trace", traceID)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	env, rep, err := s.decodeAndRun(w, r, wantAction, op)
	relatesTo := ""
	if env != nil {
		relatesTo = env.Header.MessageID
	}
	if err != nil {
		s.refuse(w, r, log, asFault(err), env, wantAction, respAction, relatesTo, traceID)
		return
	}
	h := mde2.Header{Action: respAction, RelatesTo: relatesTo}
	if rep.timestamp {
		now := s.cfg.Now().UTC()
		h.Security = &mde2.Security{Timestamp: &mde2.Timestamp{ID: "_0",
			Created: now.Format(timestampLayout), Expires: now.Add(rstrTimestampExpiry).Format(timestampLayout)}}
	}
	out, err := mde2.Marshal(h, rep.body)
	if err != nil {
		log.Error("building response", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	log.Info("enrollment request served", "action", respAction, "elapsed", s.cfg.Now().Sub(start))
	writeSOAP(w, http.StatusOK, out)
}

// timestampLayout is the xsd:dateTime form of the RSTR timestamp.
const timestampLayout = "2006-01-02T15:04:05.000Z"

// decodeAndRun reads the body (at most mde2.MaxRequestBytes), decodes the envelope, checks
// its action and runs op. The envelope is returned whenever its header could be read.
func (s *Service) decodeAndRun(w http.ResponseWriter, r *http.Request, wantAction string, op operation) (*mde2.Envelope, reply, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, mde2.MaxRequestBytes))
	if err != nil {
		return nil, reply{}, formatFault("request body unreadable or too large", err)
	}
	env, err := mde2.DecodeRequest(data)
	if err != nil {
		return env, reply{}, decodeFault(err)
	}
	if err := checkAction(env, wantAction); err != nil {
		return env, reply{}, err
	}
	rep, err := op(r.Context(), r, env)
	return env, rep, err
}

// refuse logs and audits a refused request and answers it with its SOAP fault.
func (s *Service) refuse(w http.ResponseWriter, r *http.Request, log *slog.Logger, f *Fault, env *mde2.Envelope,
	wantAction, respAction, relatesTo, traceID string) {
	level := slog.LevelInfo
	if !f.Sender {
		level = slog.LevelError
	}
	log.Log(r.Context(), level, "enrollment request refused", "code", f.Code(), "subcode", f.Subcode,
		"reason", f.Reason, "err", f.Err)
	if s.cfg.OnRefused != nil {
		upn := f.upn
		if upn == "" {
			upn = refusalUPN(env)
		}
		s.cfg.OnRefused(r.Context(), Refusal{Path: r.URL.Path, Action: wantAction, UPN: upn,
			Code: f.Code(), Subcode: f.Subcode, ErrorType: f.ErrorType, Reason: f.Reason, TraceID: traceID,
			RemoteAddr: s.cfg.ClientAddr(r), Detail: f.detail})
	}
	body, err := buildFault(f, respAction, relatesTo, traceID)
	if err != nil {
		log.Error("building fault", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(f.RetryAfter.Seconds()))))
	}
	writeSOAP(w, f.HTTPStatus(), body)
}

// refusalUPN names the user of a refused request: the UsernameToken's user, or the e-mail
// address of a Discover request.
func refusalUPN(env *mde2.Envelope) string {
	if env == nil {
		return ""
	}
	if sec := env.Header.Security; sec != nil && sec.UsernameToken != nil && sec.UsernameToken.Username != "" {
		return sec.UsernameToken.Username
	}
	return env.DiscoverEmail()
}

func writeSOAP(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", mde2.ContentTypeSOAP)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.Copy(w, bytes.NewReader(body))
}

// traceID is a short random correlation ID sent in fault details and logs.
func (s *Service) traceID() string {
	var b [8]byte
	if _, err := io.ReadFull(s.cfg.Rand, b[:]); err != nil {
		return "unavailable"
	}
	return hex.EncodeToString(b[:])
}

func (s *Service) handleDiscover(ctx context.Context, _ *http.Request, env *mde2.Envelope) (reply, error) {
	d, err := parseDiscover(env)
	if err != nil {
		return reply{}, err
	}
	body, err := s.discover(ctx, d)
	return reply{body: body}, err
}

func (s *Service) handlePolicies(ctx context.Context, _ *http.Request, env *mde2.Envelope) (reply, error) {
	if _, err := env.GetPolicies(); err != nil {
		return reply{}, decodeFault(err)
	}
	if _, err := s.authenticate(ctx, env.Header.Security); err != nil {
		return reply{}, err
	}
	return reply{body: s.policiesResponse()}, nil
}
