package compaction

import (
	"hash/maphash"
)

// offsetMap maps record keys to the offset of their latest record in the
// part of a log the cleaner has scanned, in a fixed amount of memory: an
// open-addressing table of 128-bit key hashes and offsets, 24 bytes a
// slot, filled to at most maxLoad. Keys themselves are not kept: two keys
// colliding in 128 bits would make the cleaner drop the older one's
// latest record, a chance of about n²/2¹²⁹ for n keys — nil in practice
// (Kafka's cleaner makes the same bet with 128-bit MD5).
//
// The seeds are random per map and a map lives for one cleaning pass, so
// no adversary can aim keys at collisions in advance.
type offsetMap struct {
	seed1, seed2 maphash.Seed
	hashes       [][2]uint64
	offsets      []int64 // -1: empty slot
	mask         uint64
	count, limit int
	// latest is the largest offset put, -1 if none: records past it were
	// not scanned and are kept as they are.
	latest int64
}

// slotBytes is the memory one slot takes.
const slotBytes = 24

// maxLoad is the share of slots the map fills before it says it is full:
// Kafka's log.cleaner.io.buffer.load.factor default.
const maxLoad = 0.9

// newOffsetMap returns a map using about bytes of memory (at least 1,024
// slots; the slot count is the largest power of two that fits).
func newOffsetMap(bytes int64) *offsetMap {
	slots := uint64(1024)
	for slots*2*slotBytes <= uint64(max(bytes, 0)) {
		slots *= 2
	}
	m := &offsetMap{
		seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed(),
		hashes:  make([][2]uint64, slots),
		offsets: make([]int64, slots),
		mask:    slots - 1,
		limit:   int(float64(slots) * maxLoad),
		latest:  -1,
	}
	for i := range m.offsets {
		m.offsets[i] = -1
	}
	return m
}

// capacity is how many distinct keys the map holds before it is full.
func (m *offsetMap) capacity() int { return m.limit }

// full reports whether n more distinct keys might not fit.
func (m *offsetMap) full(n int) bool { return m.count+n > m.limit }

func (m *offsetMap) hash(key []byte) [2]uint64 {
	return [2]uint64{maphash.Bytes(m.seed1, key), maphash.Bytes(m.seed2, key)}
}

// slot returns the slot of h: where it is, or the empty slot where it
// would go.
func (m *offsetMap) slot(h [2]uint64) uint64 {
	i := h[0] & m.mask
	for m.offsets[i] >= 0 && m.hashes[i] != h {
		i = (i + 1) & m.mask
	}
	return i
}

// put records offset as key's latest. Offsets must be put in increasing
// order. It returns false, changing nothing, if the key is new and the
// map is full.
func (m *offsetMap) put(key []byte, offset int64) bool {
	h := m.hash(key)
	i := m.slot(h)
	if m.offsets[i] < 0 {
		if m.count >= m.limit {
			return false
		}
		m.count++
		m.hashes[i] = h
	}
	m.offsets[i] = offset
	m.latest = max(m.latest, offset)
	return true
}

// get returns the latest offset put for key, or -1.
func (m *offsetMap) get(key []byte) int64 {
	return m.offsets[m.slot(m.hash(key))]
}
