package group

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stratalog/strata/metastore"
)

// Store is the part of metastore.Store the coordinator uses: committed
// offsets and the groups' durable state. metastore.Store satisfies it.
type Store interface {
	CommitOffsets(ctx context.Context, group string, offsets []metastore.GroupOffset) error
	GroupOffsets(ctx context.Context, group string) ([]metastore.GroupOffset, error)
	DeleteGroupOffsets(ctx context.Context, group, topic string, partitions []int32) error
	SaveGroup(ctx context.Context, g metastore.Group) error
	LoadGroup(ctx context.Context, name string) (metastore.Group, error)
	Groups(ctx context.Context) ([]metastore.Group, error)
	DeleteGroup(ctx context.Context, name string) error
}

var _ Store = metastore.Store(nil)

// Config configures a Coordinator. The zero value of every field but Store
// means its default; New calls EnsureDefaults then Validate.
type Config struct {
	// Store holds committed offsets and the groups' state. Required.
	Store Store
	// Coordinates reports whether this agent coordinates the named group:
	// requests for other groups fail with ErrNotCoordinator, and
	// EvictMoved drops them from memory. It is called with the
	// coordinator's own mutex held, so it must be quick and must not call
	// back into the Coordinator. Default: every group.
	Coordinates func(group string) bool
	// MinSessionTimeout is Kafka's group.min.session.timeout.ms: a join
	// with a shorter session timeout fails with ErrInvalidSessionTimeout.
	// Default 6s.
	MinSessionTimeout time.Duration
	// MaxSessionTimeout is group.max.session.timeout.ms, the upper bound.
	// Default 30m.
	MaxSessionTimeout time.Duration
	// MaxOffsetMetadata is offset.metadata.max.bytes: a committed offset
	// with longer metadata fails with ErrOffsetMetadataTooLarge. Default
	// 4096.
	MaxOffsetMetadata int
	// SaveTimeout bounds one SaveGroup. A group change is saved even if
	// the client that caused it goes away, so the save is not tied to the
	// request's context. Default 10s.
	SaveTimeout time.Duration
	// ConsumerTopics decodes the topics a member subscribes to from its
	// metadata for protocol type "consumer" (Kafka's consumer protocol
	// ConsumerMemberMetadata). DeleteOffsets uses it to refuse deleting
	// offsets of topics the members consume. Default: none, so every group
	// with members refuses DeleteOffsets with ErrNonEmptyGroup.
	ConsumerTopics func(metadata []byte) ([]string, error)
	// Logger receives the coordinator's logs. Default slog.Default().
	Logger *slog.Logger
	// Registerer receives the coordinator's metrics (namespace strata,
	// subsystem group; see metrics.go). Default: they are not registered.
	Registerer prometheus.Registerer
}

// Defaults of Config.
const (
	DefaultMinSessionTimeout = 6 * time.Second
	DefaultMaxSessionTimeout = 30 * time.Minute
	DefaultMaxOffsetMetadata = 4096
	DefaultSaveTimeout       = 10 * time.Second
)

// EnsureDefaults fills every zero field (but Store) with its default.
func (c *Config) EnsureDefaults() {
	if c.Coordinates == nil {
		c.Coordinates = func(string) bool { return true }
	}
	if c.MinSessionTimeout == 0 {
		c.MinSessionTimeout = DefaultMinSessionTimeout
	}
	if c.MaxSessionTimeout == 0 {
		c.MaxSessionTimeout = DefaultMaxSessionTimeout
	}
	if c.MaxOffsetMetadata == 0 {
		c.MaxOffsetMetadata = DefaultMaxOffsetMetadata
	}
	if c.SaveTimeout == 0 {
		c.SaveTimeout = DefaultSaveTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
}

// Validate reports every invalid setting.
func (c *Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("no store"))
	}
	if c.MinSessionTimeout < 0 {
		errs = append(errs, fmt.Errorf("min session timeout %v is negative", c.MinSessionTimeout))
	}
	if c.MaxSessionTimeout < c.MinSessionTimeout {
		errs = append(errs, fmt.Errorf("max session timeout %v is below the min %v", c.MaxSessionTimeout, c.MinSessionTimeout))
	}
	if c.MaxOffsetMetadata < 0 {
		errs = append(errs, fmt.Errorf("max offset metadata %d is negative", c.MaxOffsetMetadata))
	}
	if c.SaveTimeout < 0 {
		errs = append(errs, fmt.Errorf("save timeout %v is negative", c.SaveTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("group: config: %w", err)
	}
	return nil
}
