package group

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stratalog/strata/metastore"
)

// memStore is an in-memory Store for the state machine's tests; the
// SQLite tests prove persistence against a real store.
type memStore struct {
	mu      sync.Mutex
	groups  map[string]metastore.Group
	offsets map[string]map[string]metastore.GroupOffset // group → topic/partition
	saves   int
	fail    error // returned by every call when set
}

func newMemStore() *memStore {
	return &memStore{groups: map[string]metastore.Group{}, offsets: map[string]map[string]metastore.GroupOffset{}}
}

func offsetKey(topic string, p int32) string { return fmt.Sprintf("%s/%d", topic, p) }

func (s *memStore) CommitOffsets(_ context.Context, group string, offsets []metastore.GroupOffset) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if len(offsets) == 0 {
		return nil
	}
	if _, ok := s.groups[group]; !ok {
		s.groups[group] = metastore.Group{Name: group, State: "Empty", UpdatedAt: time.Now()}
	}
	if s.offsets[group] == nil {
		s.offsets[group] = map[string]metastore.GroupOffset{}
	}
	for _, o := range offsets {
		s.offsets[group][offsetKey(o.Topic, o.Partition)] = o
	}
	return nil
}

func (s *memStore) GroupOffsets(_ context.Context, group string) ([]metastore.GroupOffset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	var out []metastore.GroupOffset
	for _, o := range s.offsets[group] {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out, nil
}

func (s *memStore) DeleteGroupOffsets(_ context.Context, group, topic string, partitions []int32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	for _, p := range partitions {
		delete(s.offsets[group], offsetKey(topic, p))
	}
	return nil
}

func (s *memStore) SaveGroup(_ context.Context, g metastore.Group) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	g.Members = slices.Clone(g.Members)
	s.groups[g.Name] = g
	s.saves++
	return nil
}

func (s *memStore) LoadGroup(_ context.Context, name string) (metastore.Group, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return metastore.Group{}, s.fail
	}
	g, ok := s.groups[name]
	if !ok {
		return metastore.Group{}, metastore.ErrNotFound
	}
	return g, nil
}

func (s *memStore) Groups(context.Context) ([]metastore.Group, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	var out []metastore.Group
	for _, g := range s.groups {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return strings.Compare(out[i].Name, out[j].Name) < 0 })
	return out, nil
}

func (s *memStore) DeleteGroup(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if _, ok := s.groups[name]; !ok {
		return metastore.ErrNotFound
	}
	delete(s.groups, name)
	delete(s.offsets, name)
	return nil
}

func (s *memStore) saved(name string) (metastore.Group, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[name]
	return g, ok
}
