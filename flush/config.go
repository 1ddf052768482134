package flush

import (
	"errors"
	"fmt"
	"time"
)

// Config configures a Flusher. The zero value of a field means its
// default.
type Config struct {
	// AgentID names the objects' creator and the owner that commits are
	// fenced on. Required.
	AgentID string
	// FlushInterval is the upper bound on how long buffered data waits to
	// be sealed while an upload is in flight; with none in flight it is
	// sealed at once (see sealDecision). Default 100ms.
	FlushInterval time.Duration
	// FlushMinInterval is the floor between two seals of objects smaller
	// than FlushBytes: a trickle costs at most one PUT per
	// FlushMinInterval. It wins over FlushInterval. Default 0 (none).
	FlushMinInterval time.Duration
	// FlushBytes is the object size target: with no upload in flight a
	// generation is sealed at this size at the latest, beside another
	// upload at twice it (then even with no slot free). Default 8 MiB.
	FlushBytes int64
	// MaxUploads bounds the objects uploading at once. Default 4.
	MaxUploads int
}

// EnsureDefaults fills every zero field with its default.
func (c *Config) EnsureDefaults() {
	if c.FlushInterval == 0 {
		c.FlushInterval = 100 * time.Millisecond
	}
	if c.FlushBytes == 0 {
		c.FlushBytes = 8 << 20
	}
	if c.MaxUploads == 0 {
		c.MaxUploads = 4
	}
}

// Validate reports every invalid setting.
func (c *Config) Validate() error {
	var errs []error
	if c.AgentID == "" {
		errs = append(errs, errors.New("flush: agent id is required"))
	}
	if c.FlushInterval < time.Millisecond {
		errs = append(errs, fmt.Errorf("flush-interval %v: must be at least 1ms", c.FlushInterval))
	}
	if c.FlushMinInterval < 0 {
		errs = append(errs, fmt.Errorf("flush-min-interval %v: must not be negative", c.FlushMinInterval))
	}
	if c.FlushBytes < 1024 {
		errs = append(errs, fmt.Errorf("flush-bytes %d: must be at least 1024", c.FlushBytes))
	}
	if c.MaxUploads < 1 {
		errs = append(errs, fmt.Errorf("max uploads %d: must be at least 1", c.MaxUploads))
	}
	return errors.Join(errs...)
}
