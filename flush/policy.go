package flush

import "time"

// eagerUploads is how many uploads may be in flight when the sealer seals
// a generation smaller than FlushBytes: at most one object below the size
// target uploads at a time. While it does, new data accumulates, so the
// next object holds what arrived during one upload: small at a trickle
// (low latency), bigger as the rate grows, and FlushBytes once the rate
// fills an object within one upload (then every upload slot is used).
const eagerUploads = 1

// sealState is what the sealer knows when it decides whether to seal.
type sealState struct {
	open      int64         // bytes in the open generation
	openAge   time.Duration // since the open generation got its first byte
	sinceSeal time.Duration // since the last seal
	uploading int           // uploads in flight
	freeSlots int           // plans that may start now (MaxUploads minus plans not yet committed)
}

// sealDecision is the flush policy, a pure function of the sealer's
// state. It returns whether to seal the open generation now and, if not,
// how long at most to wait before asking again (0: until something
// changes — data appended, an upload or commit finished).
//
// In order:
//   - nothing buffered: wait.
//   - twice FlushBytes buffered: seal, even without a free upload slot
//     (the sealed generation then waits for one), so objects never grow
//     past that while uploads lag.
//   - no free slot: wait for one.
//   - FlushBytes buffered and no upload in flight: seal. With one in
//     flight a full object waits for it (or the interval) and grows: an
//     object uploads beside another only once it is twice FlushBytes, so
//     when uploads are the bottleneck objects are between one and two
//     FlushBytes and PUTs per GiB stay at or below 1 GiB / FlushBytes.
//   - the last seal less than FlushMinInterval ago: wait out the floor
//     (what bounds the PUTs a trickle costs).
//   - fewer than eagerUploads uploads in flight: seal (the pipeline is
//     idle, so waiting would only add latency).
//   - the oldest buffered byte has waited FlushInterval: seal (the upper
//     bound on how long data waits for a free slot).
//   - otherwise wait for the upload in flight, at most until the interval
//     is up.
func (c *Config) sealDecision(s sealState) (seal bool, wait time.Duration) {
	switch {
	case s.open == 0:
		return false, 0
	case s.open >= 2*c.FlushBytes:
		return true, 0
	case s.freeSlots <= 0:
		return false, 0
	case s.open >= c.FlushBytes && s.uploading < eagerUploads:
		return true, 0
	case s.sinceSeal < c.FlushMinInterval:
		return false, c.FlushMinInterval - s.sinceSeal
	case s.uploading < eagerUploads:
		return true, 0
	case s.openAge >= c.FlushInterval:
		return true, 0
	default:
		return false, c.FlushInterval - s.openAge
	}
}
