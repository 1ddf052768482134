package ownership

import (
	"encoding/binary"
	"hash/fnv"

	"github.com/stratalog/strata/metastore"
)

// PartitionOwner returns the live agent with the highest hash for the
// partition ("" with no agents); ties go to the smaller agent ID.
func PartitionOwner(agents []metastore.Agent, id metastore.TopicID, partition int32) string {
	key := make([]byte, 0, 21)
	key = append(key, 'p')
	key = append(key, id[:]...)
	key = binary.BigEndian.AppendUint32(key, uint32(partition))
	return rendezvous(agents, key)
}

// GroupCoordinator returns the live agent with the highest hash for the
// group name.
func GroupCoordinator(agents []metastore.Agent, group string) string {
	return rendezvous(agents, append([]byte{'g'}, group...))
}

// rendezvous returns the live agent with the highest hash of (agent, key).
func rendezvous(agents []metastore.Agent, key []byte) string {
	var best string
	var bestHash uint64
	for _, ag := range agents {
		h := fnv.New64a()
		h.Write(key)
		h.Write([]byte{0})
		h.Write([]byte(ag.ID))
		v := mix64(h.Sum64())
		if best == "" || v > bestHash || (v == bestHash && ag.ID < best) {
			best, bestHash = ag.ID, v
		}
	}
	return best
}

// mix64 is the splitmix64 finalizer: FNV-1a alone barely separates keys
// that differ only in a prefix, which made every partition hash to one agent.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
