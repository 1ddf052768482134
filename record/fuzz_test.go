package record

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// fuzzLimit is small so that a fuzzed batch can never make a run allocate
// much; the seeds fit well under it.
const fuzzLimit = 1 << 20

func fuzzSeeds(f *testing.F) {
	for _, c := range allCodecs {
		f.Add(mustBuild(f, sampleHeader(), sampleRecords(), c))
		f.Add(mustBuild(f, Header{}, []Record{{Key: []byte("k"), Value: []byte("v")}}, c))
	}
	recs := sampleRecords()
	var raw []byte
	for i := range recs {
		raw = appendRecord(raw, &recs[i])
	}
	frame := xerialFrame(raw[:50], raw[50:])
	h := sampleHeader()
	h.Magic = Magic
	h.Attributes = int16(CodecSnappy)
	h.NumRecords = int32(len(recs))
	h.LastOffsetDelta = h.NumRecords - 1
	h.Length = int32(HeaderSize - 12 + len(frame))
	b := make([]byte, HeaderSize+len(frame))
	putHeader(b, h)
	copy(b[HeaderSize:], frame)
	fixCRC(b)
	f.Add(b)
	f.Add([]byte{})
	f.Add(make([]byte, HeaderSize))
}

// FuzzValidate checks that Validate, Next and ParseHeader never panic, that
// they agree, and that a batch Validate accepts survives the header setters.
func FuzzValidate(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		ph, perr := ParseHeader(b)
		h, err := Validate(b)
		batch, rest, nerr := Next(b)
		if err != nil {
			if h.Magic == Magic && perr != nil {
				t.Fatalf("Validate parsed a header ParseHeader refused: %v", perr)
			}
			return
		}
		if perr != nil || ph != h {
			t.Fatalf("ParseHeader %+v %v, Validate %+v", ph, perr, h)
		}
		if nerr != nil || len(rest) != 0 || !bytes.Equal(batch, b) {
			t.Fatalf("Next disagrees with Validate: %v, %d left", nerr, len(rest))
		}
		c := bytes.Clone(b)
		SetBaseOffset(c, h.BaseOffset+1)
		SetPartitionLeaderEpoch(c, h.PartitionLeaderEpoch+1)
		SetLogAppendTime(c, 12345)
		h2, err := Validate(c)
		if err != nil {
			t.Fatalf("Validate after setters: %v", err)
		}
		if !h2.LogAppendTime() || h2.MaxTimestamp != 12345 || h2.BaseOffset != h.BaseOffset+1 {
			t.Fatalf("setters: %+v", h2)
		}
	})
}

// FuzzRecords checks that Records never panics or allocates beyond its
// limit, and that whatever it decodes re-encodes to records that decode
// the same way.
func FuzzRecords(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := Records(b, fuzzLimit)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) &&
				!errors.Is(err, ErrUnsupportedMagic) && !errors.Is(err, ErrUnknownCodec) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		h, _ := ParseHeader(b)
		if len(recs) != int(h.NumRecords) {
			t.Fatalf("%d records, header says %d", len(recs), h.NumRecords)
		}
		// Records does not check the offset delta invariant; Validate does.
		h.LastOffsetDelta = max(h.LastOffsetDelta, h.NumRecords-1)
		rebuilt, err := Build(h, recs, CodecNone)
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		if _, err := Validate(rebuilt); err != nil {
			t.Fatalf("rebuilt batch: %v", err)
		}
		again, err := Records(rebuilt, len(rebuilt))
		if err != nil {
			t.Fatalf("Records of rebuilt batch: %v", err)
		}
		if !reflect.DeepEqual(normalize(again), normalize(recs)) {
			t.Fatalf("round trip differs")
		}
	})
}

// normalize maps empty header slices to nil so DeepEqual compares content.
func normalize(recs []Record) []Record {
	for i := range recs {
		if len(recs[i].Headers) == 0 {
			recs[i].Headers = nil
		}
	}
	return recs
}

// FuzzEachRecord: EachRecord never panics, and on any batch Records
// decodes it reports the same records (offset and timestamp deltas, key,
// value, nil kept apart from empty); it may accept a batch whose headers
// Records rejects, since it does not decode them.
func FuzzEachRecord(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		type seen struct {
			od         int32
			ts         int64
			key, value []byte
		}
		var got []seen
		err := EachRecord(b, fuzzLimit, func(od int32, ts int64, key, value []byte) error {
			got = append(got, seen{od, ts, key, value})
			return nil
		})
		recs, rerr := Records(b, fuzzLimit)
		if rerr != nil {
			return
		}
		if err != nil {
			t.Fatalf("EachRecord: %v, Records decoded the batch", err)
		}
		if len(got) != len(recs) {
			t.Fatalf("EachRecord saw %d records, Records %d", len(got), len(recs))
		}
		for i, r := range recs {
			g := got[i]
			if g.od != r.OffsetDelta || g.ts != r.TimestampDelta || !bytes.Equal(g.key, r.Key) || !bytes.Equal(g.value, r.Value) ||
				(g.key == nil) != (r.Key == nil) || (g.value == nil) != (r.Value == nil) {
				t.Fatalf("record %d: EachRecord %+v, Records %+v", i, g, r)
			}
		}
	})
}

// FuzzParseMarker: ParseMarker never panics on any bytes, and a marker it
// builds parses back to itself.
func FuzzParseMarker(f *testing.F) {
	fuzzSeeds(f)
	f.Add(BuildMarker(Marker{ProducerID: 7, ProducerEpoch: 3, Commit: true, CoordinatorEpoch: 9}, 1000))
	f.Add(BuildMarker(Marker{ProducerID: 1, Commit: false}, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMarker(b)
		if err != nil {
			return
		}
		back, err := ParseMarker(BuildMarker(m, 1))
		if err != nil || back != m {
			t.Fatalf("marker %+v built and parsed back as %+v (%v)", m, back, err)
		}
	})
}
