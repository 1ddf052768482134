package s3

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkPut measures Put against STRATA_TEST_S3_URL (MinIO; skipped
// without it) the old way and the new one in the same run:
//
//   - "sdk-defaults": the SDK's defaults before this benchmark existed:
//     over plain http every body is hashed twice, SHA-256 for the payload
//     signature and CRC32 for the checksum (in one pass, both), and
//     objects above 16 MiB go in 8 MiB parts;
//   - "unsigned+crc32": what Open does now for a loopback or https
//     endpoint: UNSIGNED-PAYLOAD, one CRC32 of the body, which the
//     server checks;
//   - "unsigned,no-checksum": no hash at all, what the CRC32 costs;
//   - for 64 MiB objects, "multipart" (8 MiB parts: create + 8 parts +
//     complete = 10 requests) against "single" (one PUT, as Put now
//     does up to 128 MiB).
//
// Each sub-benchmark puts objects from 4 goroutines (the agent uploads
// up to 4 at once) and reports MB/s and the CPU spent per MB: by this
// process (client-ms/MB, from getrusage) and by MinIO (minio-ms/MB, from
// /proc of STRATA_MINIO_PID, which scripts/start-minio.sh's env file
// sets; the server hashes what it checks too). Other processes on the
// machine move MB/s; the CPU per MB moves less. For example:
//
//	. /tmp/minio.env; go test -run '^$' -bench Put -benchtime 40x ./tiering/objstore/s3/
func BenchmarkPut(b *testing.B) {
	u := os.Getenv("STRATA_TEST_S3_URL")
	if u == "" {
		b.Skip("STRATA_TEST_S3_URL is not set")
	}
	for _, tc := range []struct {
		name      string
		size      int
		tune      tuning
		threshold int // 0: the Store's own
	}{
		{"8MiB/sdk-defaults", 8 << 20, tuning{sdkDefaults: true}, 0},
		{"8MiB/unsigned+crc32", 8 << 20, tuning{}, 0},
		{"8MiB/unsigned,no-checksum", 8 << 20, tuning{noPutChecksum: true}, 0},
		{"64MiB/sdk-defaults,multipart", 64 << 20, tuning{sdkDefaults: true}, 0},
		{"64MiB/unsigned+crc32,multipart-8MiB", 64 << 20, tuning{}, 16 << 20},
		{"64MiB/unsigned+crc32,single", 64 << 20, tuning{}, 128 << 20},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var suffix [6]byte
			rand.Read(suffix[:])
			s, err := open(context.Background(), withPrefix(b, u, fmt.Sprintf("bench/%x", suffix)), tc.tune)
			if err != nil {
				b.Fatal(err)
			}
			if tc.threshold != 0 {
				s.threshold, s.partSize = tc.threshold, oldPartSize
			}
			data := make([]byte, tc.size)
			rand.Read(data)
			ctx := context.Background()
			// One Put first, so connections are open before timing.
			if err := s.Put(ctx, "warm", data); err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.SetBytes(int64(tc.size))
			b.ResetTimer()
			cpu0, minio0 := selfCPU(), minioCPU()
			for range 4 {
				wg.Go(func() {
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						if err := s.Put(ctx, fmt.Sprintf("obj-%d", i%8), data); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			cpu, minio := selfCPU()-cpu0, minioCPU()-minio0
			b.StopTimer()
			mb := float64(tc.size) * float64(b.N) / 1e6
			b.ReportMetric(float64(cpu.Milliseconds())/mb, "client-ms/MB")
			if minio0 >= 0 {
				b.ReportMetric(float64(minio.Milliseconds())/mb, "minio-ms/MB")
			}
			for i := range 8 {
				s.Delete(ctx, fmt.Sprintf("obj-%d", i))
			}
			s.Delete(ctx, "warm")
		})
	}
}

// selfCPU is the user and system CPU time of this process.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// minioCPU is the user and system CPU time of the MinIO process named by
// STRATA_MINIO_PID, or -1.
func minioCPU() time.Duration {
	pid := os.Getenv("STRATA_MINIO_PID")
	if pid == "" {
		return -1
	}
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return -1
	}
	// Fields after the command name in parentheses; utime and stime are
	// fields 14 and 15 of the whole line, in clock ticks (100 a second on
	// Linux).
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return -1
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}
