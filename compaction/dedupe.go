package compaction

import (
	"hash/maphash"
	"math"
)

// offsetMap maps record keys to the offset of their latest record in the
// part of a log the cleaner has scanned, in bounded memory: an
// open-addressing table of 96-bit key hashes and 32-bit offsets (from the
// map's base offset), 16 bytes a slot, filled to at most maxLoad; it
// starts small and doubles as keys come, up to its bound. Keys
// themselves are not kept: two keys colliding in 96 bits would make the
// cleaner drop the older one's latest record, a chance of about n²/2⁹⁷
// for n keys (below 10⁻¹⁶ for the 3.7 million keys of 64 MiB).
//
// The seeds are random per map and a map lives for one cleaning pass, so
// no one can aim keys at collisions in advance.
type offsetMap struct {
	seed1, seed2 maphash.Seed
	slots        []slot
	mask         uint64
	count, limit int // limit: keys before the table grows or is full
	maxSlots     int
	base         int64 // offsets are stored as offset - base + 1; 0 is empty
	// latest is the largest offset put, -1 if none: records past it were
	// not scanned and are kept as they are.
	latest int64
}

type slot struct {
	h0  uint64
	h1  uint32
	off uint32 // offset - base + 1; 0: empty
}

// slotBytes is the memory one slot takes.
const slotBytes = 16

// maxLoad is the share of slots the map fills before it says it is full:
// Kafka's log.cleaner.io.buffer.load.factor default.
const maxLoad = 0.9

// initialSlots is where a map starts (1 MiB).
const initialSlots = 1 << 16

// newOffsetMap returns a map for offsets from base on, using at most
// about bytes of memory (at least 1,024 slots; the bound is the largest
// power of two of slots that fits).
func newOffsetMap(bytes int64, base int64) *offsetMap {
	maxSlots := 1024
	for uint64(maxSlots)*2*slotBytes <= uint64(max(bytes, 0)) {
		maxSlots *= 2
	}
	m := &offsetMap{seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed(), maxSlots: maxSlots, base: base, latest: -1}
	m.resize(min(maxSlots, initialSlots))
	return m
}

// resize makes the table n slots (a power of two) and puts the entries
// back.
func (m *offsetMap) resize(n int) {
	old := m.slots
	m.slots = make([]slot, n)
	m.mask = uint64(n - 1)
	// Below its bound the table doubles at half full, where linear
	// probing is short; at its bound it fills to maxLoad.
	m.limit = n / 2
	if n >= m.maxSlots {
		m.limit = int(float64(n) * maxLoad)
	}
	for _, s := range old {
		if s.off != 0 {
			i := s.h0 & m.mask
			for m.slots[i].off != 0 {
				i = (i + 1) & m.mask
			}
			m.slots[i] = s
		}
	}
}

// capacity is how many distinct keys the map holds at its bound.
func (m *offsetMap) capacity() int { return int(float64(m.maxSlots) * maxLoad) }

// full reports whether n more distinct keys might not fit, or offsets
// up to last could not be stored.
func (m *offsetMap) full(n int, last int64) bool {
	return m.count+n > m.capacity() || last-m.base >= math.MaxUint32-1
}

// find returns the slot of key: where it is, or the empty slot where it
// would go, and its hash.
func (m *offsetMap) find(key []byte) (*slot, uint64, uint32) {
	h0 := maphash.Bytes(m.seed1, key)
	h1 := uint32(maphash.Bytes(m.seed2, key))
	i := h0 & m.mask
	for {
		s := &m.slots[i]
		if s.off == 0 || (s.h0 == h0 && s.h1 == h1) {
			return s, h0, h1
		}
		i = (i + 1) & m.mask
	}
}

// put records offset (at least base, increasing) as key's latest. It
// returns false, changing nothing, if the key is new and the map is
// full.
func (m *offsetMap) put(key []byte, offset int64) bool {
	s, h0, h1 := m.find(key)
	if s.off == 0 {
		if m.count >= m.limit {
			if len(m.slots) >= m.maxSlots {
				return false
			}
			m.resize(2 * len(m.slots))
			s, h0, h1 = m.find(key)
		}
		m.count++
		s.h0, s.h1 = h0, h1
	}
	s.off = uint32(offset - m.base + 1)
	m.latest = max(m.latest, offset)
	return true
}

// get returns the latest offset put for key, or -1.
func (m *offsetMap) get(key []byte) int64 {
	s, _, _ := m.find(key)
	if s.off == 0 {
		return -1
	}
	return m.base + int64(s.off) - 1
}
