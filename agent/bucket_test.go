package agent_test

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stratalog/strata/agent"
	"github.com/stratalog/strata/internal/testkit"
	"github.com/stratalog/strata/metastore/postgres"
	"github.com/stratalog/strata/record"
	"github.com/stratalog/strata/tiering/segment"
)

// TestBucketInspectedIndependently: after producing on Postgres + MinIO,
// an independent S3 client (minio-go) finds the segment objects with valid
// index footers, and every Postgres index row points at bytes in them
// that hold the offsets the row claims.
func TestBucketInspectedIndependently(t *testing.T) {
	pgURL, s3URL := testkit.RemoteBackends(t)
	a := testkit.StartAgent(t, agent.Config{MetastoreURL: pgURL, ObjstoreURL: s3URL, FlushInterval: 20 * time.Millisecond})
	testkit.CreateTopic(t, a.Addr(), "inspect", 2, nil)
	cl := testkit.NewClient(t, a.Addr(), kgo.DefaultProduceTopic("inspect"), kgo.RequiredAcks(kgo.AllISRAcks()))
	ctx := context.Background()
	for round := 0; round < 4; round++ {
		var rs []*kgo.Record
		for i := 0; i < 250; i++ {
			rs = append(rs, &kgo.Record{Key: []byte{byte(i)}, Value: []byte(strings.Repeat("v", 200))})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	u, err := url.Parse(s3URL)
	if err != nil {
		t.Fatal(err)
	}
	endpoint, _ := url.Parse(u.Query().Get("endpoint"))
	mc, err := minio.New(endpoint.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), ""),
		Secure:       endpoint.Scheme == "https",
		Region:       u.Query().Get("region"),
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	bucket, prefix := u.Host, strings.Trim(u.Path, "/")+"/"
	objects := map[string][]segment.Chunk{}
	raw := map[string][]byte{}
	for info := range mc.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if info.Err != nil {
			t.Fatal(info.Err)
		}
		obj, err := mc.GetObject(ctx, bucket, info.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		data := make([]byte, info.Size)
		if _, err := obj.ReadAt(data, 0); err != nil && info.Size > 0 {
			t.Fatalf("read %s: %v", info.Key, err)
		}
		obj.Close()
		chunks, err := segment.Parse(data)
		if err != nil {
			t.Fatalf("object %s: %v", info.Key, err)
		}
		key := strings.TrimPrefix(info.Key, prefix)
		objects[key], raw[key] = chunks, data
	}
	if len(objects) == 0 {
		t.Fatal("no objects in the bucket")
	}

	meta, err := postgres.Open(ctx, pgURL, postgres.Options{NoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	top, err := meta.Topic(ctx, "inspect")
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for part := int32(0); part < 2; part++ {
		segs, err := meta.IndexRows(ctx, top.ID, part, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		next := int64(0)
		for _, s := range segs {
			chunks, ok := objects[s.ObjectKey]
			if !ok {
				t.Fatalf("index row points at %s, which is not in the bucket", s.ObjectKey)
			}
			inChunk := false
			for _, c := range chunks {
				if c.TopicID == top.ID && c.Partition == part && s.Pos >= c.Pos && s.Pos+s.Size <= c.Pos+c.Size {
					inChunk = true
				}
			}
			if !inChunk {
				t.Fatalf("row %+v is outside its partition's chunks in the footer", s)
			}
			if s.BaseOffset != next {
				t.Fatalf("partition %d: row starts at %d, want %d (dense)", part, s.BaseOffset, next)
			}
			h, err := record.Validate(mustFirstBatch(t, raw[s.ObjectKey][s.Pos:s.Pos+s.Size]))
			if err != nil || h.BaseOffset != s.BaseOffset {
				t.Fatalf("first batch at row %+v: base %d err %v", s, h.BaseOffset, err)
			}
			next = s.LastOffset + 1
		}
		total += next
	}
	if total != 1000 {
		t.Fatalf("index rows cover %d offsets, want 1000", total)
	}
}

func mustFirstBatch(t *testing.T, data []byte) []byte {
	t.Helper()
	b, _, err := record.Next(data)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
