package segment

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"time"
)

// ObjectKey returns the object key for the seq'th object written by the
// agent agentID at time t:
//
//	<hhhh>/seg/<agent>/<yyyymmddThhmmss.mmmZ>-<seq, 16 hex digits>.seg
//
// The leading four hex digits hash (agentID, seq), so consecutive objects of
// one agent, and objects of many agents, spread over 65,536 prefixes: S3
// scales request rates per prefix. Within one agent's directory keys sort by
// time, then seq. The agent ID is the only caller-supplied text; bytes other
// than [A-Za-z0-9._-] are escaped as %XX, so any ID yields a valid key. Keys
// carry nothing secret; the metastore, not the key, is the source of truth
// for what an object holds.
func ObjectKey(agentID string, seq uint64, t time.Time) string {
	agent := escapeAgent(agentID)
	var seqBytes [8]byte
	binary.BigEndian.PutUint64(seqBytes[:], seq)
	h := crc32.New(castagnoli)
	h.Write([]byte(agentID))
	h.Write([]byte{0})
	h.Write(seqBytes[:])
	return fmt.Sprintf("%04x/seg/%s/%s-%016x.seg",
		h.Sum32()>>16, agent, t.UTC().Format("20060102T150405.000Z"), seq)
}

func escapeAgent(id string) string {
	if id == "" {
		return "_"
	}
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	s := b.String()
	if s == "." || s == ".." {
		return strings.ReplaceAll(s, ".", "%2E")
	}
	return s
}
