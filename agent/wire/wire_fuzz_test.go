package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func frameOf(t testing.TB, req kmsg.Request, version int16) []byte {
	req.SetVersion(version)
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("fuzz"))
	return f.AppendRequest(nil, req, 7)
}

func TestParseRequestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		req     kmsg.Request
		version int16
	}{
		{kmsg.NewPtrApiVersionsRequest(), 0},
		{kmsg.NewPtrApiVersionsRequest(), 3},
		{kmsg.NewPtrMetadataRequest(), 12},
		{kmsg.NewPtrFetchRequest(), 13},
		{kmsg.NewPtrProduceRequest(), 9},
	} {
		frame := frameOf(t, tc.req, tc.version)
		got, err := ReadFrame(bytes.NewReader(frame), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		h, req, err := ParseRequest(got)
		if err != nil {
			t.Fatalf("key %d v%d: %v", tc.req.Key(), tc.version, err)
		}
		if h.Key != tc.req.Key() || h.Version != tc.version || h.CorrelationID != 7 || h.ClientID == nil || *h.ClientID != "fuzz" {
			t.Fatalf("header %+v", h)
		}
		if req.Key() != tc.req.Key() {
			t.Fatalf("decoded key %d", req.Key())
		}
	}
}

func TestReadFrameRejectsOversizeBeforeAllocating(t *testing.T) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], 200<<20)
	_, err := ReadFrame(bytes.NewReader(b[:]), 100<<20)
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("want ErrFrameTooLarge, got %v", err)
	}
	binary.BigEndian.PutUint32(b[:], 0xffffffff)
	if _, err := ReadFrame(bytes.NewReader(b[:]), 100<<20); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("negative size: want ErrFrameTooLarge, got %v", err)
	}
}

func TestParseHeaderUnknownKeyAndVersion(t *testing.T) {
	frame := frameOf(t, kmsg.NewPtrMetadataRequest(), 1)
	binary.BigEndian.PutUint16(frame[4:], 9999)
	if _, _, err := ParseRequest(frame[4:]); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("want ErrUnknownKey, got %v", err)
	}
	frame = frameOf(t, kmsg.NewPtrMetadataRequest(), 1)
	binary.BigEndian.PutUint16(frame[6:], 999)
	if _, _, err := ParseRequest(frame[4:]); !errors.Is(err, ErrUnknownVersion) {
		t.Fatalf("want ErrUnknownVersion, got %v", err)
	}
}

// FuzzParseRequest feeds arbitrary frames to the request decoder: it must
// return a request or an error, never panic, whatever the bytes.
func FuzzParseRequest(f *testing.F) {
	seeds := []kmsg.Request{
		kmsg.NewPtrApiVersionsRequest(), kmsg.NewPtrMetadataRequest(),
		kmsg.NewPtrProduceRequest(), kmsg.NewPtrFetchRequest(),
		kmsg.NewPtrListOffsetsRequest(), kmsg.NewPtrCreateTopicsRequest(),
		kmsg.NewPtrInitProducerIDRequest(), kmsg.NewPtrDescribeConfigsRequest(),
	}
	for _, r := range seeds {
		for _, v := range []int16{0, r.MaxVersion() / 2, r.MaxVersion()} {
			f.Add(frameOf(f, r, v)[4:])
		}
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, req, err := ParseRequest(frame)
		if err != nil {
			return
		}
		if req.Key() != h.Key || req.GetVersion() != h.Version {
			t.Fatalf("header %+v does not match request %d v%d", h, req.Key(), req.GetVersion())
		}
		// A decoded request must re-encode without panicking.
		_ = req.AppendTo(nil)
	})
}
