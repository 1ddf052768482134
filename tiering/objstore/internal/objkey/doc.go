// Package objkey checks object keys against the rules of objstore.Store, so
// that every implementation accepts and rejects the same keys.
package objkey
