// Package group is the consumer group coordinator: the classic group
// protocol (join, sync, heartbeat, leave), committed offsets and the
// group administration calls (describe, list, delete). It knows nothing
// of Kafka's wire format: the agent's request handlers translate Kafka
// requests into this package's request structs and its answers back.
//
// # Basics
//
// A Coordinator holds the groups this agent coordinates, loaded from the
// Store on first use. Which agent coordinates a group is decided outside
// (Config.Coordinates, the agent's placement by rendezvous hashing over
// live agents); a request for a group placed elsewhere fails with
// ErrNotCoordinator and drops the group from memory, and EvictMoved drops
// every such group after a placement change. The new coordinator loads it
// from the Store.
//
// Each group is guarded by its own mutex. Kafka's states:
//
//	Empty ──join──▶ PreparingRebalance ──all known members joined, or the
//	     ◀─no members left─┘      ▲       rebalance timeout──▶ CompletingRebalance
//	                              │                                 │ leader's Sync
//	                              └──join/leave/expiry── Stable ◀───┘
//
// Dead is a deleted group. When a rebalance completes the generation
// advances, the protocol is chosen by vote among those every member
// supports (ties go to the longest-standing member's preference) and the
// longest-standing member leads: its Join answer lists every member's
// metadata, and its Sync carries the assignment handed to each member
// byte for byte. Timers (member session expiry, the rebalance timeout,
// the wait for Sync, expiry of member ids handed out with
// ErrMemberIDRequired) are time.AfterFunc callbacks that take the group's
// mutex; a callback that finds its state superseded does nothing.
//
// Static members (an instance id, KIP-345) that rejoin with an empty
// member id replace their old member id, whose later requests fail with
// ErrFencedInstance; in a Stable group whose protocol choice does not
// change there is no rebalance (SkipAssignment for a static leader).
//
// # Waiting requests
//
// Join (until the rebalance completes) and Sync (until the leader's
// assignment arrives) take a completion callback and return at once, so
// the caller (a connection's reader) keeps going. The callback is parked
// in the member; whatever completes it (another member's request, a
// timer, eviction, Close) calls it under the group's mutex. If the
// request's context ends first, a context.AfterFunc answers it with
// ErrAbandoned. There is no goroutine per group or per waiter. Callbacks
// must therefore be quick and must not call back into the Coordinator.
//
// # Durability
//
// Offsets are written with Store.CommitOffsets while the group's mutex is
// held, so a commit validated against a generation is durable before that
// generation can end and a new coordinator fetch the offsets. The group
// itself (generation, protocol, leader, members as JSON) is saved with
// SaveGroup when a rebalance completes, when the leader's assignment
// arrives, and when a static member is replaced. A coordinator that loads
// a group with members (after a restart, or taking over from another
// agent) starts it in PreparingRebalance: the restored members'
// heartbeats fail with ErrRebalanceInProgress, so they rejoin with their
// member ids within their rebalance timeout or are dropped.
//
// # Errors
//
// Outcomes are this package's error values (errors.go), tested with
// errors.Is; each stands for one Kafka error code, and the request layer
// maps them (agent/errors.go, groupErrorCode). The package does not return
// Kafka codes itself: which code a condition becomes, and where a version
// of the protocol carries it (top level or per partition), is the wire
// protocol's business, and keeping kerr out keeps the state machine
// testable and readable on its own terms. Metastore failures wrap
// ErrStore; a request whose context was canceled may wrap
// context.Canceled.
//
// Locks are taken in the order DESIGN.md writes down (a group's mutex,
// then the Coordinator's; never the other way).
//
// # Caveats
//
// FetchOffsets reads the Store without loading the group or checking
// placement, as the agent did before this package existed: any agent
// answers it.
//
// A SaveGroup failure is logged and counted (strata_group_save_errors_total)
// but not reported to the client: the in-memory group stays authoritative
// while this agent coordinates it, and a later change saves it again. A
// takeover after such a failure restores an older generation.
//
// Metadata and assignments are opaque bytes, except for DeleteOffsets,
// which asks Config.ConsumerTopics to decode consumer protocol metadata.
//
// Waiting requests parked in a group evicted by a placement change fail
// with ErrNotCoordinator; those parked at Close fail with ErrClosed.
package group
