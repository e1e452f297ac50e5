// Package store is Herald's durable subscriber store: subscribers with their identities, caller
// card, callee card, ringback clip and push_capable flag, and the pages and clips they name as
// immutable, content-addressed versions.
//
// Store is the interface the provisioning API and the seed import write through. Bolt is its
// embedded implementation: one bbolt file in data_dir (FileName), created on first start, where
// every write returns only once its transaction is committed and fsync'd. Concurrent writers are
// grouped into one commit (bbolt's Batch) and each is answered only after that commit.
//
// The call path never reads the store. Live (index.go) keeps an in-memory index of every identity
// and a byte-bounded cache of materialised profiles (pages and clips): it implements
// profile.Store for core/signal, and every write made through it is visible to the next Lookup on
// this node. Versions are immutable and a call holds the *content.Page it started with, so a write
// during a ringing call never changes what that call sends.
//
// Live also runs over a store that is not Bolt (NewLiveFrom over a Source): netio/redisstore keeps
// a fleet's subscribers in Redis and feeds each node's index with Apply (every write, in revision
// order, from Redis's change stream) and Resync (the whole set, after the stream was lost). There a
// miss is bounded by LiveOptions.LoadTimeout, and while the backend is down (LiveOptions.Available)
// a miss is served plainly at once.
//
// Versions that no subscriber references are collected (Bolt.Collect) once they have been
// unreferenced for Options.GCGrace, so a page uploaded just before the subscriber write that names
// it is not lost in between.
package store
