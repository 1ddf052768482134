package kafka

// AlterUserScramCredentials v0.
//
//   - Upsertions carry a salted password (the client derived it), from
//     which StoredKey and ServerKey are computed and stored with the salt
//     and iteration count; the password itself never reaches the agent.
//   - Per user, one result: an unknown mechanism is
//     UNSUPPORTED_SASL_MECHANISM; an empty name, iterations outside
//     4096..16384, or an empty salt or salted password is
//     UNACCEPTABLE_CREDENTIAL; a user with the same mechanism twice in the
//     request is DUPLICATE_RESOURCE; deleting a credential that does not
//     exist is RESOURCE_NOT_FOUND. A user with any error has none of its
//     changes applied.
//   - Credentials live in the metastore: every agent sees a change at the
//     next authentication.

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/auth/scram"
	"github.com/stratalog/strata/metastore"
)

// NewScramCredential derives a user's stored credential from a password
// (strata users add).
func NewScramCredential(user, mechanism string, password []byte, iterations int) (metastore.ScramCredential, error) {
	m, ok := scram.ByName(mechanism)
	if !ok {
		return metastore.ScramCredential{}, fmt.Errorf("mechanism %q: want SCRAM-SHA-256 or SCRAM-SHA-512", mechanism)
	}
	if iterations < m.MinIterations || iterations > scram.MaxIterations {
		return metastore.ScramCredential{}, fmt.Errorf("iterations %d: want %d..%d", iterations, m.MinIterations, scram.MaxIterations)
	}
	if user == "" {
		return metastore.ScramCredential{}, errors.New("empty user name")
	}
	c := m.NewCredential(password, iterations)
	return metastore.ScramCredential{User: user, Mechanism: m.Name, Salt: c.Salt, StoredKey: c.StoredKey,
		ServerKey: c.ServerKey, Iterations: int32(iterations)}, nil
}

func handleAlterUserScramCredentials(c *conn, req kmsg.Request, f *inflight) {
	srv := c.srv
	r := req.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := r.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	type change struct {
		del  bool
		cred metastore.ScramCredential
	}
	var order []string
	seen := map[string]bool{}
	note := func(user string) {
		if !seen[user] {
			seen[user] = true
			order = append(order, user)
		}
	}
	changes := map[string][]change{}
	failed := map[string]struct {
		code int16
		msg  string
	}{}
	fail := func(user string, code int16, msg string) {
		note(user)
		if _, ok := failed[user]; !ok {
			failed[user] = struct {
				code int16
				msg  string
			}{code, msg}
		}
	}
	add := func(user string, mech int8, ch change) {
		note(user)
		name, ok := scramMechanisms[mech]
		switch {
		case user == "":
			fail(user, kerr.UnacceptableCredential.Code, "user name must not be empty")
		case !ok:
			fail(user, kerr.UnsupportedSaslMechanism.Code, fmt.Sprintf("unknown SCRAM mechanism %d", mech))
		}
		for _, o := range changes[user] {
			if o.cred.Mechanism == name {
				fail(user, kerr.DuplicateResource.Code, "the same user and mechanism appear twice")
			}
		}
		ch.cred.User, ch.cred.Mechanism = user, name
		changes[user] = append(changes[user], ch)
	}
	for _, d := range r.Deletions {
		add(d.Name, d.Mechanism, change{del: true})
	}
	for _, u := range r.Upsertions {
		ch := change{}
		m, ok := scram.ByName(scramMechanisms[u.Mechanism])
		if ok {
			switch {
			case u.Iterations < int32(m.MinIterations) || u.Iterations > scram.MaxIterations:
				fail(u.Name, kerr.UnacceptableCredential.Code, fmt.Sprintf("iterations %d: must be %d..%d", u.Iterations, m.MinIterations, scram.MaxIterations))
			case len(u.Salt) == 0 || len(u.SaltedPassword) == 0:
				fail(u.Name, kerr.UnacceptableCredential.Code, "salt and salted password must not be empty")
			default:
				sc := m.CredentialFromSalted(u.SaltedPassword, u.Salt, int(u.Iterations))
				ch.cred = metastore.ScramCredential{Salt: sc.Salt, StoredKey: sc.StoredKey, ServerKey: sc.ServerKey, Iterations: u.Iterations}
			}
		}
		add(u.Name, u.Mechanism, ch)
	}
	for _, user := range order {
		res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		res.User = user
		if e, bad := failed[user]; bad {
			res.ErrorCode, res.ErrorMessage = e.code, &e.msg
			resp.Results = append(resp.Results, res)
			continue
		}
		for _, ch := range changes[user] {
			var err error
			if ch.del {
				err = srv.meta.DeleteScramCredential(c.ctx, user, ch.cred.Mechanism)
			} else {
				err = srv.meta.PutScramCredential(c.ctx, ch.cred)
			}
			if errors.Is(err, metastore.ErrNotFound) {
				msg := "no " + ch.cred.Mechanism + " credential to delete"
				res.ErrorCode, res.ErrorMessage = kerr.ResourceNotFound.Code, &msg
				break
			}
			if err != nil {
				srv.log.Warn("alter scram credentials", "user", user, "err", err)
				res.ErrorCode = kerr.UnknownServerError.Code
				break
			}
		}
		resp.Results = append(resp.Results, res)
	}
	f.finish(resp)
}
