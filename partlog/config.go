package partlog

import (
	"errors"
	"fmt"
)

// Config configures a Registry. The zero value of a field means its
// default.
type Config struct {
	// BufferBytes bounds bytes accepted but not yet committed; beyond it
	// Append fails with ErrBufferFull (retriable) until uploads catch up.
	// Default 256 MiB.
	BufferBytes int64
	// FlushBytes is the flusher's object size target; BufferBytes must
	// hold at least one object. Default 8 MiB.
	FlushBytes int64
	// TailBytes is the memory budget of the just-flushed chunks kept to
	// serve tail consumers without object-store reads. Default 64 MiB.
	TailBytes int64
}

// EnsureDefaults fills every zero field with its default.
func (c *Config) EnsureDefaults() {
	if c.BufferBytes == 0 {
		c.BufferBytes = 256 << 20
	}
	if c.FlushBytes == 0 {
		c.FlushBytes = 8 << 20
	}
	if c.TailBytes == 0 {
		c.TailBytes = 64 << 20
	}
}

// Validate reports every invalid setting.
func (c *Config) Validate() error {
	var errs []error
	if c.TailBytes < 0 {
		errs = append(errs, errors.New("tail-bytes must not be negative"))
	}
	if c.BufferBytes < c.FlushBytes {
		errs = append(errs, fmt.Errorf("buffer-bytes %d: must be at least flush-bytes %d", c.BufferBytes, c.FlushBytes))
	}
	return errors.Join(errs...)
}
