package scram

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// maxMessage bounds a client message; real ones are well under 1 KiB.
const maxMessage = 4096

// ClientFirst is a parsed client-first-message.
type ClientFirst struct {
	// GS2Header is the header as sent ("n,," or "y,," or with an authzid),
	// which the client-final message must echo base64-encoded.
	GS2Header string
	// AuthzID is the authorization identity, "" if absent.
	AuthzID string
	// User is the decoded user name.
	User string
	// Nonce is the client's nonce.
	Nonce string
	// Extensions are the attr=value pairs after the nonce.
	Extensions map[string]string
	// Bare is client-first-message-bare, part of the AuthMessage.
	Bare string
}

// ClientFinal is a parsed client-final-message.
type ClientFinal struct {
	// ChannelBinding is the decoded c= value.
	ChannelBinding []byte
	// Nonce is the combined nonce.
	Nonce string
	// Proof is the decoded client proof.
	Proof []byte
	// WithoutProof is client-final-message-without-proof, part of the
	// AuthMessage.
	WithoutProof string
}

var errMalformed = errors.New("scram: malformed message")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
}

// ParseClientFirst parses a client-first-message (RFC 5802 section 7).
func ParseClientFirst(msg []byte) (ClientFirst, error) {
	var cf ClientFirst
	if len(msg) > maxMessage {
		return cf, malformed("message of %d bytes", len(msg))
	}
	if !printable(msg) {
		return cf, malformed("non-printable byte")
	}
	s := string(msg)
	// gs2-header: cbind flag, optional authzid.
	flag, rest, ok := strings.Cut(s, ",")
	if !ok {
		return cf, malformed("no gs2 header")
	}
	switch {
	case flag == "n" || flag == "y":
	case strings.HasPrefix(flag, "p="):
		return cf, malformed("channel binding is not supported")
	default:
		return cf, malformed("bad channel binding flag %q", flag)
	}
	authz, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return cf, malformed("no gs2 header")
	}
	if authz != "" {
		v, ok := strings.CutPrefix(authz, "a=")
		if !ok {
			return cf, malformed("bad authzid")
		}
		name, err := decodeName(v)
		if err != nil {
			return cf, err
		}
		cf.AuthzID = name
	}
	cf.GS2Header = s[:len(s)-len(bare)]
	cf.Bare = bare
	attrs := strings.Split(bare, ",")
	if strings.HasPrefix(attrs[0], "m=") {
		return cf, malformed("mandatory extension not supported")
	}
	if len(attrs) < 2 {
		return cf, malformed("need user and nonce")
	}
	user, ok := strings.CutPrefix(attrs[0], "n=")
	if !ok {
		return cf, malformed("first attribute must be n=")
	}
	name, err := decodeName(user)
	if err != nil {
		return cf, err
	}
	if name == "" {
		return cf, malformed("empty user name")
	}
	cf.User = name
	nonce, ok := strings.CutPrefix(attrs[1], "r=")
	if !ok || nonce == "" {
		return cf, malformed("second attribute must be a non-empty r=")
	}
	cf.Nonce = nonce
	for _, a := range attrs[2:] {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return cf, malformed("bad extension %q", a)
		}
		if cf.Extensions == nil {
			cf.Extensions = map[string]string{}
		}
		cf.Extensions[k] = v
	}
	return cf, nil
}

// ParseClientFinal parses a client-final-message.
func ParseClientFinal(msg []byte) (ClientFinal, error) {
	var cf ClientFinal
	if len(msg) > maxMessage {
		return cf, malformed("message of %d bytes", len(msg))
	}
	if !printable(msg) {
		return cf, malformed("non-printable byte")
	}
	s := string(msg)
	i := strings.LastIndex(s, ",p=")
	if i < 0 {
		return cf, malformed("no proof")
	}
	cf.WithoutProof = s[:i]
	proof, err := base64.StdEncoding.DecodeString(s[i+3:])
	if err != nil || len(proof) == 0 {
		return cf, malformed("bad proof")
	}
	cf.Proof = proof
	attrs := strings.Split(cf.WithoutProof, ",")
	if len(attrs) < 2 {
		return cf, malformed("need channel binding and nonce")
	}
	cb, ok := strings.CutPrefix(attrs[0], "c=")
	if !ok {
		return cf, malformed("first attribute must be c=")
	}
	if cf.ChannelBinding, err = base64.StdEncoding.DecodeString(cb); err != nil {
		return cf, malformed("bad channel binding")
	}
	if cf.Nonce, ok = strings.CutPrefix(attrs[1], "r="); !ok || cf.Nonce == "" {
		return cf, malformed("second attribute must be a non-empty r=")
	}
	return cf, nil
}

// decodeName undoes saslname escaping: "=2C" is ',' and "=3D" is '='; any
// other '=' is an error.
func decodeName(s string) (string, error) {
	if !strings.Contains(s, "=") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", malformed("bad escape in name")
		}
		i += 2
	}
	return b.String(), nil
}

// EncodeName escapes a user name as a saslname.
func EncodeName(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

// printable reports whether msg has no control bytes (UTF-8 above 0x7f is
// allowed in names).
func printable(msg []byte) bool {
	return bytes.IndexFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0
}
