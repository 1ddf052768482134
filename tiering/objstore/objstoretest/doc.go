// Package objstoretest is the conformance suite every objstore.Store
// implementation must pass, in the manner of testing/fstest.
//
// # Basics
//
// An implementation's test calls Run with a constructor that returns a new,
// empty store for each subtest:
//
//	func TestConformance(t *testing.T) {
//		objstoretest.Run(t, func(t *testing.T) objstore.Store {
//			s, err := fs.Open(t.TempDir())
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// The suite checks round trips, overwrites, range reads and their bounds,
// missing objects (errors.Is objstore.ErrNotExist), deletes, sorted prefix
// listing, invalid keys, a 20 MiB object, that data is not aliased, that
// concurrent Puts to one key leave exactly one of the written values (and
// that readers never see a mix), that an already-cancelled context
// makes every operation fail with context.Canceled, DeleteBatch where the
// store is an objstore.BatchDeleter (missing and repeated keys, an invalid
// key failing alone as an objstore.KeyError, the size limit), and
// objstore.DeleteKeys over more keys than one batch takes.
//
// # Caveats
//
// Subtests run in parallel, so newStore must be safe to call concurrently
// and stores it returns must not share keys.
package objstoretest
