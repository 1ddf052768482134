package kafka

// DescribeUserScramCredentials v0.
//
//   - A null or empty user list describes every user with a credential;
//     each user's mechanisms (1 SCRAM-SHA-256, 2 SCRAM-SHA-512) and
//     iteration counts, never salts or keys.
//   - A named user without credentials is RESOURCE_NOT_FOUND; a user
//     named twice is DUPLICATE_RESOURCE (one result for it).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/auth"
	"github.com/stratalog/strata/metastore"
)

// scramMechanisms are the wire codes of the SCRAM mechanisms.
var scramMechanisms = map[int8]string{1: auth.ScramSHA256, 2: auth.ScramSHA512}

func scramCode(name string) int8 {
	for code, n := range scramMechanisms {
		if n == name {
			return code
		}
	}
	return 0
}

func handleDescribeUserScramCredentials(c *conn, req kmsg.Request, f *inflight) {
	srv := c.srv
	r := req.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	all, err := srv.meta.ScramCredentials(c.ctx)
	if err != nil {
		srv.log.Warn("describe scram credentials", "err", err)
		resp.ErrorCode = kerr.UnknownServerError.Code
		f.finish(resp)
		return
	}
	byUser := map[string][]metastore.ScramCredential{}
	var order []string
	for _, cr := range all {
		if _, ok := byUser[cr.User]; !ok {
			order = append(order, cr.User)
		}
		byUser[cr.User] = append(byUser[cr.User], cr)
	}
	result := func(user string) kmsg.DescribeUserSCRAMCredentialsResponseResult {
		res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		res.User = user
		creds := byUser[user]
		if len(creds) == 0 {
			res.ErrorCode = kerr.ResourceNotFound.Code
			msg := "no SCRAM credential for user " + user
			res.ErrorMessage = &msg
			return res
		}
		for _, cr := range creds {
			info := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
			info.Mechanism, info.Iterations = scramCode(cr.Mechanism), cr.Iterations
			res.CredentialInfos = append(res.CredentialInfos, info)
		}
		return res
	}
	if len(r.Users) == 0 {
		for _, u := range order {
			resp.Results = append(resp.Results, result(u))
		}
		f.finish(resp)
		return
	}
	count := map[string]int{}
	for _, u := range r.Users {
		count[u.Name]++
	}
	for _, u := range r.Users {
		switch n := count[u.Name]; {
		case n > 1:
			res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
			res.User, res.ErrorCode = u.Name, kerr.DuplicateResource.Code
			msg := "user named more than once"
			res.ErrorMessage = &msg
			resp.Results = append(resp.Results, res)
			count[u.Name] = -1 // once
		case n == 1:
			resp.Results = append(resp.Results, result(u.Name))
		}
	}
	f.finish(resp)
}
