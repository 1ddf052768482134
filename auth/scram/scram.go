// Package scram is the server side of SCRAM-SHA-256 and SCRAM-SHA-512
// (RFC 5802, RFC 7677) as Kafka speaks them: credentials derived with
// PBKDF2 (golang.org/x/crypto/pbkdf2) and HMAC (crypto/hmac), a parser of
// the client's two messages, and a two-step server conversation.
//
// # Basics
//
// A Credential holds the salt, the iteration count, StoredKey and
// ServerKey, never the password. NewServer starts a conversation for one
// mechanism; Step is called with the client-first message and then with
// the client-final message. Step's error is ErrAuthFailed for every
// failure of the client (unknown user, wrong proof, malformed message),
// so a caller cannot tell them apart and neither can the client.
//
// # Caveats
//
// Channel binding is not supported: a client asking for it ("p=") is
// refused. The "tokenauth" extension (delegation tokens) is refused.
package scram

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"hash"

	"golang.org/x/crypto/pbkdf2"
)

// ErrAuthFailed is every authentication failure of a conversation.
var ErrAuthFailed = errors.New("scram: authentication failed")

// Mechanism is one SCRAM hash variant.
type Mechanism struct {
	// Name is the SASL mechanism name, e.g. "SCRAM-SHA-256".
	Name string
	// Hash is the hash function.
	Hash func() hash.Hash
	// Size is the hash's output size in bytes.
	Size int
	// MinIterations is the fewest PBKDF2 iterations accepted for a stored
	// credential (Kafka's minimum, 4096).
	MinIterations int
}

// MaxIterations is the most PBKDF2 iterations a credential may have
// (Kafka's limit).
const MaxIterations = 16384

var (
	// SHA256 is SCRAM-SHA-256 (RFC 7677).
	SHA256 = Mechanism{Name: "SCRAM-SHA-256", Hash: sha256.New, Size: sha256.Size, MinIterations: 4096}
	// SHA512 is SCRAM-SHA-512.
	SHA512 = Mechanism{Name: "SCRAM-SHA-512", Hash: sha512.New, Size: sha512.Size, MinIterations: 4096}
)

// ByName returns the mechanism called name.
func ByName(name string) (Mechanism, bool) {
	switch name {
	case SHA256.Name:
		return SHA256, true
	case SHA512.Name:
		return SHA512, true
	}
	return Mechanism{}, false
}

// Credential is what the server stores for one user and mechanism.
type Credential struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte
	ServerKey  []byte
}

// SaltedPassword is Hi(password, salt, iterations) of RFC 5802.
func (m Mechanism) SaltedPassword(password, salt []byte, iterations int) []byte {
	return pbkdf2.Key(password, salt, iterations, m.Size, m.Hash)
}

// NewCredential derives the credential for password with a fresh random
// salt.
func (m Mechanism) NewCredential(password []byte, iterations int) Credential {
	salt := make([]byte, 32)
	rand.Read(salt)
	return m.CredentialFromSalted(m.SaltedPassword(password, salt, iterations), salt, iterations)
}

// CredentialFromSalted derives the stored credential from a salted
// password (AlterUserScramCredentials carries one, not the password).
func (m Mechanism) CredentialFromSalted(salted, salt []byte, iterations int) Credential {
	clientKey := m.hmac(salted, []byte("Client Key"))
	return Credential{
		Salt:       append([]byte(nil), salt...),
		Iterations: iterations,
		StoredKey:  m.sum(clientKey),
		ServerKey:  m.hmac(salted, []byte("Server Key")),
	}
}

// VerifyPassword reports whether password matches the credential (SASL
// PLAIN verified against a SCRAM credential), in constant time over the
// keys.
func (m Mechanism) VerifyPassword(c Credential, password []byte) bool {
	got := m.CredentialFromSalted(m.SaltedPassword(password, c.Salt, c.Iterations), c.Salt, c.Iterations)
	return subtle.ConstantTimeCompare(got.StoredKey, c.StoredKey) == 1
}

func (m Mechanism) hmac(key, msg []byte) []byte {
	h := hmac.New(m.Hash, key)
	h.Write(msg)
	return h.Sum(nil)
}

func (m Mechanism) sum(b []byte) []byte {
	h := m.Hash()
	h.Write(b)
	return h.Sum(nil)
}

// Decoy returns a credential for a user who does not exist: stable for
// the same user and secret (a client asking twice sees the same salt), so
// the conversation looks the same as for a real user and then fails.
func (m Mechanism) Decoy(secret []byte, user string) Credential {
	salt := m.hmac(secret, []byte("salt:"+user))[:32]
	key := m.hmac(secret, []byte("key:"+user))
	return Credential{Salt: salt, Iterations: m.MinIterations, StoredKey: key, ServerKey: key}
}
