package group

import "errors"

// Outcomes of the coordinator's operations. They are returned as is, or
// wrapped with detail (test with errors.Is). Each corresponds to one
// Kafka error code, which the request layer chooses (see doc.go).
var (
	// ErrInvalidGroupID: the group name is empty (INVALID_GROUP_ID).
	ErrInvalidGroupID = errors.New("group: empty group id")
	// ErrInvalidSessionTimeout: a join's session timeout is outside
	// [MinSessionTimeout, MaxSessionTimeout] (INVALID_SESSION_TIMEOUT).
	ErrInvalidSessionTimeout = errors.New("group: session timeout out of bounds")
	// ErrInconsistentProtocol: a join without a protocol type or
	// protocols, or with none the other members share, or a sync naming
	// another protocol than the group's (INCONSISTENT_GROUP_PROTOCOL).
	ErrInconsistentProtocol = errors.New("group: protocol not shared with the group")
	// ErrMemberIDRequired: a dynamic member's first join (with
	// JoinRequest.RequireMemberID); JoinResponse.MemberID is the id to
	// rejoin with (MEMBER_ID_REQUIRED).
	ErrMemberIDRequired = errors.New("group: member id required")
	// ErrUnknownMember: the group has no such member, or it was removed
	// (UNKNOWN_MEMBER_ID).
	ErrUnknownMember = errors.New("group: unknown member id")
	// ErrFencedInstance: a static member's instance id now belongs to
	// another member id (FENCED_INSTANCE_ID).
	ErrFencedInstance = errors.New("group: instance id fenced by a newer member")
	// ErrIllegalGeneration: the generation is not the group's
	// (ILLEGAL_GENERATION).
	ErrIllegalGeneration = errors.New("group: illegal generation")
	// ErrRebalanceInProgress: the member must rejoin, or sync once the
	// rebalance completes (REBALANCE_IN_PROGRESS).
	ErrRebalanceInProgress = errors.New("group: rebalance in progress")
	// ErrGroupNotFound: no such group (GROUP_ID_NOT_FOUND).
	ErrGroupNotFound = errors.New("group: no such group")
	// ErrNonEmptyGroup: the group has members (NON_EMPTY_GROUP).
	ErrNonEmptyGroup = errors.New("group: group has members")
	// ErrSubscribedToTopic: the group's members consume the topic
	// (GROUP_SUBSCRIBED_TO_TOPIC).
	ErrSubscribedToTopic = errors.New("group: members subscribe to the topic")
	// ErrOffsetMetadataTooLarge: committed metadata is longer than
	// MaxOffsetMetadata (OFFSET_METADATA_TOO_LARGE).
	ErrOffsetMetadataTooLarge = errors.New("group: offset metadata too large")
	// ErrNotCoordinator: another agent coordinates the group
	// (NOT_COORDINATOR).
	ErrNotCoordinator = errors.New("group: another agent coordinates this group")
	// ErrClosed: the coordinator is closed (NOT_COORDINATOR: the client
	// finds the coordinator again).
	ErrClosed = errors.New("group: coordinator closed")
	// ErrStore: the metastore failed to load or save the group or its
	// offsets (COORDINATOR_NOT_AVAILABLE: retriable).
	ErrStore = errors.New("group: metastore failed")
	// ErrAbandoned: a waiting Join or Sync whose context ended first; it
	// wraps the context's cause (nobody is left to read the answer).
	ErrAbandoned = errors.New("group: request abandoned")
)
