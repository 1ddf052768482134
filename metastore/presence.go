package metastore

import "context"

// Presence is a liveness signal bound to a process rather than to a
// clock: an agent holds its presence for as long as its process lives,
// and the store gives it up the moment the process dies (a killed
// process's database connection or file closes). Peers that see an
// agent's presence gone know it is dead at once, without waiting for
// its lease; an agent that is only frozen or slow keeps its presence, so
// its partitions still move only when its lease expires. It is a hint
// for speed, never for safety: ownership epochs fence every write
// whatever it says.
//
// Postgres holds a session-level advisory lock on a dedicated connection
// (the server releases it when the connection drops); SQLite holds an
// exclusive lock on a file beside the database (the kernel releases it
// when the process exits).
type Presence interface {
	// HoldPresence takes agentID's presence and keeps it until the hold
	// is closed. If another live process holds it, the hold is not held
	// yet; Renew keeps trying.
	HoldPresence(ctx context.Context, agentID string) (PresenceHold, error)
	// PresentAgents reports which of agentIDs are held now (absent IDs
	// are false).
	PresentAgents(ctx context.Context, agentIDs []string) (map[string]bool, error)
}

// PresenceHold is one process's hold of its presence.
type PresenceHold interface {
	// Renew checks that the presence is still held and takes it again
	// if it was lost (the connection dropped); it reports whether it is
	// held now.
	Renew(ctx context.Context) (bool, error)
	// Close gives the presence up.
	Close() error
}
