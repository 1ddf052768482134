package record

import (
	"encoding/binary"
	"fmt"
)

// Transaction markers: a control batch (transactional and control bits
// set) holding one control record whose key is (version int16 = 0, type
// int16: 0 abort, 1 commit) and whose value is (version int16 = 0,
// coordinator epoch int32), as Kafka writes them.

// Control record types.
const (
	ControlAbort  int16 = 0
	ControlCommit int16 = 1
)

// Marker is a transaction marker's content.
type Marker struct {
	ProducerID       int64
	ProducerEpoch    int16
	Commit           bool
	CoordinatorEpoch int32
}

// BuildMarker encodes m as a control batch at base offset 0 (the caller
// assigns the offset) with timestamp ts (unix millis).
func BuildMarker(m Marker, ts int64) []byte {
	typ := ControlAbort
	if m.Commit {
		typ = ControlCommit
	}
	key := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, 0), uint16(typ))
	value := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint16(nil, 0), uint32(m.CoordinatorEpoch))
	h := Header{
		Attributes:     attrTransactional | attrControl,
		FirstTimestamp: ts, MaxTimestamp: ts,
		ProducerID: m.ProducerID, ProducerEpoch: m.ProducerEpoch, BaseSequence: -1,
	}
	b, err := Build(h, []Record{{Key: key, Value: value}}, CodecNone)
	if err != nil {
		panic(fmt.Sprintf("record: building a marker: %v", err)) // uncompressed and tiny: cannot fail
	}
	return b
}

// ParseMarker reads the marker of control batch b (validated). A control
// batch whose record is not a transaction marker is an error.
func ParseMarker(b []byte) (Marker, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return Marker{}, err
	}
	if !h.Control() {
		return Marker{}, fmt.Errorf("%w: not a control batch", ErrCorrupt)
	}
	recs, err := Records(b, 1<<20)
	if err != nil {
		return Marker{}, err
	}
	if len(recs) != 1 || len(recs[0].Key) < 4 {
		return Marker{}, fmt.Errorf("%w: control batch with %d records", ErrCorrupt, len(recs))
	}
	m := Marker{ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch}
	switch int16(binary.BigEndian.Uint16(recs[0].Key[2:4])) {
	case ControlCommit:
		m.Commit = true
	case ControlAbort:
	default:
		return Marker{}, fmt.Errorf("%w: control record type %d", ErrCorrupt, binary.BigEndian.Uint16(recs[0].Key[2:4]))
	}
	if v := recs[0].Value; len(v) >= 6 {
		m.CoordinatorEpoch = int32(binary.BigEndian.Uint32(v[2:6]))
	}
	return m, nil
}
