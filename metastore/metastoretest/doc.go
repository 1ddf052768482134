// Package metastoretest is the conformance suite every metastore.Store
// implementation must pass.
//
// # Basics
//
// An implementation's test calls Run with a constructor for empty stores:
//
//	func TestConformance(t *testing.T) {
//		metastoretest.Run(t, func(t *testing.T) metastore.Store {
//			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "meta.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// # Caveats
//
// Subtests run in parallel, each on its own store: newStore must return an
// empty, independent store every time and close it in t.Cleanup.
// Timestamps in the suite are whole milliseconds, so an implementation may
// store times at millisecond precision or finer.
package metastoretest
