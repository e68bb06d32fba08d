package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// wireSeq is an OP_MSG document sequence (section kind 1).
type wireSeq struct {
	ident string
	docs  []bson.D
}

// wireMsg builds an OP_MSG request as a driver sends it.
func wireMsg(t testing.TB, flags uint32, body bson.D, seqs ...wireSeq) []byte {
	t.Helper()
	le := binary.LittleEndian
	msg := le.AppendUint32(nil, 0) // length, patched below
	msg = le.AppendUint32(msg, 7)  // requestID
	msg = le.AppendUint32(msg, 0)  // responseTo
	msg = le.AppendUint32(msg, opMsg)
	msg = le.AppendUint32(msg, flags)
	msg = append(msg, 0)
	msg = append(msg, marshal(t, body)...)
	for _, s := range seqs {
		sec := append([]byte(s.ident), 0)
		for _, d := range s.docs {
			sec = append(sec, marshal(t, d)...)
		}
		msg = append(msg, 1)
		msg = le.AppendUint32(msg, uint32(4+len(sec)))
		msg = append(msg, sec...)
	}
	if flags&flagChecksumPresent != 0 {
		msg = le.AppendUint32(msg, 0) // patched below
	}
	le.PutUint32(msg, uint32(len(msg)))
	if flags&flagChecksumPresent != 0 {
		le.PutUint32(msg[len(msg)-4:], crc32.Checksum(msg[:len(msg)-4], crc32.MakeTable(crc32.Castagnoli)))
	}
	return msg
}

func marshal(t testing.TB, d bson.D) []byte {
	t.Helper()
	b, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func e(k string, v any) bson.E { return bson.E{Key: k, Value: v} }

// classifyCases are requests and what classify must make of them; keys
// names the documents of a keyed write by their expected lock keys.
func classifyCases(t testing.TB) []struct {
	name string
	msg  []byte
	want accessKind
	keys int
} {
	upd := func(q bson.D) bson.D { return bson.D{e("q", q), e("u", bson.D{e("$set", bson.D{e("n", 1)})})} }
	id := func(v any) bson.D { return bson.D{e("_id", v)} }
	update := func(stmts ...bson.D) []byte {
		return wireMsg(t, 0, bson.D{e("update", "tasks"), e("ordered", true), e("$db", "skalds")},
			wireSeq{"updates", stmts})
	}
	oid := bson.NewObjectID()
	return []struct {
		name string
		msg  []byte
		want accessKind
		keys int
	}{
		{"update by string _id", update(upd(id("a"))), keyed, 1},
		{"update by _id and epoch", update(upd(bson.D{e("_id", "a"), e("epoch", 3)})), keyed, 1},
		{"bulk update of three documents, one twice", update(upd(id("a")), upd(id("b")), upd(id("a")), upd(id(oid))), keyed, 3},
		{"update with statements in the body", wireMsg(t, 0, bson.D{e("update", "tasks"), e("updates", bson.A{upd(id(int64(4)))}), e("$db", "skalds")}), keyed, 1},
		{"upsert by _id", update(bson.D{e("q", id("a")), e("u", bson.D{e("$set", bson.D{e("n", 1)})}), e("upsert", true)}), keyed, 1},
		{"update with a checksum", wireMsg(t, flagChecksumPresent, bson.D{e("update", "tasks"), e("$db", "skalds")}, wireSeq{"updates", []bson.D{upd(id("a"))}}), keyed, 1},
		{"unacknowledged update", wireMsg(t, flagMoreToCome, bson.D{e("update", "tasks"), e("$db", "skalds")}, wireSeq{"updates", []bson.D{upd(id("a"))}}), keyed, 1},
		{"delete by _id", wireMsg(t, 0, bson.D{e("delete", "tasks"), e("$db", "skalds")}, wireSeq{"deletes", []bson.D{{e("q", id(true)), e("limit", 1)}}}), keyed, 1},
		{"findAndModify by _id", wireMsg(t, 0, bson.D{e("findAndModify", "tasks"), e("query", bson.D{e("_id", bson.DateTime(5)), e("phase", "pending")}), e("update", bson.D{e("$inc", bson.D{e("n", 1)})}), e("$db", "skalds")}), keyed, 1},
		{"findAndModify remove by _id", wireMsg(t, 0, bson.D{e("findandmodify", "tasks"), e("query", id(bson.Timestamp{T: 1})), e("remove", true), e("$db", "skalds")}), keyed, 1},

		{"update by another field", update(upd(bson.D{e("phase", "pending")})), exclusive, 0},
		{"bulk update, one statement not by _id", update(upd(id("a")), upd(bson.D{e("phase", "pending")})), exclusive, 0},
		{"update by _id $in", update(upd(id(bson.D{e("$in", bson.A{"a", "b"})}))), exclusive, 0},
		{"update by _id $eq", update(upd(id(bson.D{e("$eq", "a")}))), exclusive, 0},
		{"update by _id regex", update(upd(id(bson.Regex{Pattern: "^a"}))), exclusive, 0},
		{"update by _id document", update(upd(id(bson.D{e("k", "a")}))), exclusive, 0},
		{"update by _id array", update(upd(id(bson.A{"a"}))), exclusive, 0},
		{"update by _id null", update(upd(id(nil))), exclusive, 0},
		{"update by _id decimal", update(upd(id(bson.NewDecimal128(0, 1)))), exclusive, 0},
		{"update with a collation", update(bson.D{e("q", id("a")), e("u", bson.D{}), e("collation", bson.D{e("locale", "en")})}), exclusive, 0},
		{"update with _id twice in its filter", update(upd(bson.D{e("_id", "a"), e("_id", "b")})), exclusive, 0},
		{"update with q twice", update(bson.D{e("q", id("a")), e("q", bson.D{e("phase", "x")}), e("u", bson.D{})}), exclusive, 0},
		{"upsert without _id", update(bson.D{e("q", bson.D{e("name", "x")}), e("u", bson.D{}), e("upsert", true)}), exclusive, 0},
		{"update without statements", update(), exclusive, 0},
		{"update without $db", wireMsg(t, 0, bson.D{e("update", "tasks")}, wireSeq{"updates", []bson.D{upd(id("a"))}}), exclusive, 0},
		{"update of a collection that is no string", wireMsg(t, 0, bson.D{e("update", 1), e("$db", "skalds")}, wireSeq{"updates", []bson.D{upd(id("a"))}}), exclusive, 0},
		{"update with statements in the body and a sequence", wireMsg(t, 0, bson.D{e("update", "tasks"), e("updates", bson.A{upd(id("a"))}), e("$db", "skalds")}, wireSeq{"updates", []bson.D{upd(bson.D{e("x", 1)})}}), exclusive, 0},
		{"update with a second sequence", wireMsg(t, 0, bson.D{e("update", "tasks"), e("$db", "skalds")}, wireSeq{"updates", []bson.D{upd(id("a"))}}, wireSeq{"deletes", []bson.D{{e("q", bson.D{}), e("limit", 0)}}}), exclusive, 0},
		{"update with a repeated sequence", wireMsg(t, 0, bson.D{e("update", "tasks"), e("$db", "skalds")}, wireSeq{"updates", []bson.D{upd(id("a"))}}, wireSeq{"updates", []bson.D{upd(id("b"))}}), exclusive, 0},
		{"command named twice", wireMsg(t, 0, bson.D{e("update", "tasks"), e("update", "other"), e("$db", "skalds")}, wireSeq{"updates", []bson.D{upd(id("a"))}}), exclusive, 0},
		{"findAndModify by another field", wireMsg(t, 0, bson.D{e("findAndModify", "tasks"), e("query", bson.D{e("phase", "pending")}), e("update", bson.D{}), e("$db", "skalds")}), exclusive, 0},
		{"findAndModify without query", wireMsg(t, 0, bson.D{e("findAndModify", "tasks"), e("update", bson.D{}), e("upsert", true), e("$db", "skalds")}), exclusive, 0},
		{"insert", wireMsg(t, 0, bson.D{e("insert", "tasks"), e("$db", "skalds")}, wireSeq{"documents", []bson.D{id("a")}}), exclusive, 0},
		{"createIndexes", wireMsg(t, 0, bson.D{e("createIndexes", "tasks"), e("indexes", bson.A{}), e("$db", "skalds")}), exclusive, 0},
		{"drop", wireMsg(t, 0, bson.D{e("drop", "tasks"), e("$db", "skalds")}), exclusive, 0},
		{"unknown command", wireMsg(t, 0, bson.D{e("bulkWrite", 1), e("$db", "admin")}), exclusive, 0},
		{"aggregate with $out", wireMsg(t, 0, bson.D{e("aggregate", "tasks"), e("pipeline", bson.A{bson.D{e("$match", bson.D{})}, bson.D{e("$out", "copy")}}), e("$db", "skalds")}), exclusive, 0},
		{"aggregate with $merge", wireMsg(t, 0, bson.D{e("aggregate", "tasks"), e("pipeline", bson.A{bson.D{e("$merge", "copy")}}), e("$db", "skalds")}), exclusive, 0},
		{"explain of an update", wireMsg(t, 0, bson.D{e("explain", bson.D{e("update", "tasks")}), e("$db", "skalds")}), exclusive, 0},
		{"unknown flag bit", wireMsg(t, 1<<5, bson.D{e("find", "tasks"), e("$db", "skalds")}), exclusive, 0},

		{"find", wireMsg(t, 0, bson.D{e("find", "tasks"), e("filter", id("a")), e("$db", "skalds")}), read, 0},
		{"getMore", wireMsg(t, 0, bson.D{e("getMore", int64(9)), e("collection", "tasks"), e("$db", "skalds")}), read, 0},
		{"aggregate", wireMsg(t, 0, bson.D{e("aggregate", "tasks"), e("pipeline", bson.A{bson.D{e("$match", bson.D{})}}), e("$db", "skalds")}), read, 0},
		{"explain of a find", wireMsg(t, 0, bson.D{e("explain", bson.D{e("find", "tasks")}), e("$db", "skalds")}), read, 0},
		{"hello", wireMsg(t, 0, bson.D{e("hello", 1), e("$db", "admin")}), read, 0},
		{"ping", wireMsg(t, 0, bson.D{e("ping", 1), e("$db", "admin")}), read, 0},
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, c := range classifyCases(t) {
		got := classify(c.msg)
		if got.kind != c.want || len(got.keys) != c.keys {
			t.Errorf("%s: %v with %d keys, want %v with %d", c.name, got.kind, len(got.keys), c.want, c.keys)
		}
	}

	key := func(db, coll string, idValue any) string {
		t.Helper()
		a := classify(wireMsg(t, 0, bson.D{e("update", coll), e("$db", db)},
			wireSeq{"updates", []bson.D{{e("q", bson.D{e("_id", idValue)}), e("u", bson.D{})}}}))
		if a.kind != keyed || len(a.keys) != 1 {
			t.Fatalf("update of %s.%s by _id %v: %v %q, want one key", db, coll, idValue, a.kind, a.keys)
		}
		return a.keys[0]
	}
	// Values that MongoDB's equality matches must share a lock.
	for _, same := range [][]any{
		{int32(1), int64(1), 1.0},
		{0.0, math.Copysign(0, -1), int32(0)},
		{math.NaN(), math.Float64frombits(0x7ff8000000000001)},
	} {
		for _, v := range same[1:] {
			if key("app", "c", same[0]) != key("app", "c", v) {
				t.Errorf("_id %v (%T) and %v (%T) have different locks", same[0], same[0], v, v)
			}
		}
	}
	if key("app", "c", "x") != key("APP", "C", "x") {
		t.Error("names differing in case have different locks")
	}
	for _, other := range []string{key("app", "d", "x"), key("db", "c", "x"), key("app", "c", "y"), key("app", "c", 1.5)} {
		if other == key("app", "c", "x") {
			t.Errorf("lock %q shared by writes of different documents", other)
		}
	}

	// Truncations and byte flips of a keyed update read as something
	// else or as exclusive, never keyed on different terms, never panic.
	msg := classifyCases(t)[0].msg
	for n := range len(msg) {
		if a := classify(msg[:n]); a.kind != exclusive {
			t.Fatalf("the first %d bytes of a keyed update: %v, want exclusive", n, a.kind)
		}
	}
	legacy := slices.Clone(msg)
	binary.LittleEndian.PutUint32(legacy[12:], 2004) // OP_QUERY
	if a := classify(legacy); a.kind != exclusive {
		t.Fatalf("OP_QUERY: %v, want exclusive", a.kind)
	}
}

// FuzzClassify feeds classify arbitrary bytes: it must not panic, and what
// it returns must be self-consistent.
func FuzzClassify(f *testing.F) {
	for _, c := range classifyCases(f) {
		f.Add(c.msg)
	}
	f.Add([]byte{})
	f.Add([]byte("\x15\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xdd\x07\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		a := classify(msg)
		switch a.kind {
		case keyed:
			if len(a.keys) == 0 || !slices.IsSorted(a.keys) || len(slices.Compact(slices.Clone(a.keys))) != len(a.keys) {
				t.Fatalf("keyed with keys %q: want sorted, distinct, at least one", a.keys)
			}
		case read, exclusive:
			if a.keys != nil {
				t.Fatalf("%v with keys %q", a.kind, a.keys)
			}
		default:
			t.Fatalf("kind %d", a.kind)
		}
	})
}

// onBackends runs test against FerretDB on SQLite and, when a PostgreSQL
// server answers, on PostgreSQL, in parallel.
func onBackends(t *testing.T, test func(t *testing.T, ctx context.Context, m *Mongo)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t, 60*time.Second)
		m, err := StartMongo(ctx, MongoOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Close() })
		test(t, ctx, m)
	})
	t.Run("postgresql", func(t *testing.T) {
		t.Parallel()
		_, ctx, m := startOnPostgreSQL(t)
		test(t, ctx, m)
	})
}

// proxyOf returns the proxy m runs now.
func proxyOf(m *Mongo) *Proxy {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.proxy
}

// TestProxySameDocumentWrites has clients increment one counter with
// writes by _id, which the proxy runs at once for different documents:
// those of one document must still never interleave.
func TestProxySameDocumentWrites(t *testing.T) {
	t.Parallel()
	onBackends(t, func(t *testing.T, ctx context.Context, m *Mongo) {
		const clients, increments = 8, 15
		counter := bson.D{e("_id", "counter")}
		setup := connectMongo(t, ctx, m.URI()).Database("app").Collection("increments")
		if _, err := setup.InsertOne(ctx, bson.D{e("_id", "counter"), e("n", 0), e("m", 0)}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for range clients {
			coll := connectMongo(t, ctx, m.URI()).Database("app").Collection("increments")
			wg.Go(func() {
				for range increments {
					// FerretDB runs $inc as read, add, write back.
					if _, err := coll.UpdateOne(ctx, counter, bson.D{e("$inc", bson.D{e("n", 1)})}); err != nil {
						errs <- err
						return
					}
					if err := coll.FindOneAndUpdate(ctx, counter, bson.D{e("$inc", bson.D{e("m", 1)})}).Err(); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var got struct{ N, M int }
		if err := setup.FindOne(ctx, counter).Decode(&got); err != nil {
			t.Fatal(err)
		}
		if got.N != clients*increments || got.M != clients*increments {
			t.Fatalf("n = %d (update), m = %d (findAndModify), want %d each: increments were lost", got.N, got.M, clients*increments)
		}
		concurrentCompareAndSet(t, ctx, m)
		s := proxyOf(m).locks.snapshot()
		if s.overlaps != 0 {
			t.Fatalf("%d exclusive requests ran beside others", s.overlaps)
		}
		if m.pgURL == "" && s.peakAll != 1 {
			t.Fatalf("%d requests at once on SQLite, where every request runs alone", s.peakAll)
		}
	})
}

// TestProxyKeyedWritesOverlap shows that writes of different documents by
// _id reach FerretDB at once on PostgreSQL: the first write waits, holding
// its locks, until a second one holds its own too. On SQLite every request
// runs alone (TestProxySameDocumentWrites checks that).
func TestProxyKeyedWritesOverlap(t *testing.T) {
	t.Parallel()
	_, ctx, m := startOnPostgreSQL(t)
	const clients, writes = 8, 10
	const most = maxConcurrentWrites
	setup := connectMongo(t, ctx, m.URI()).Database("app").Collection("docs")
	var docs []any
	for i := range clients {
		docs = append(docs, bson.D{e("_id", fmt.Sprint("doc-", i)), e("n", 0)})
	}
	if _, err := setup.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	colls := make([]*mongo.Collection, clients)
	for i := range colls {
		colls[i] = connectMongo(t, ctx, m.URI()).Database("app").Collection("docs")
	}

	p := proxyOf(m)
	first, second := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var firstHeld bool
	var secondOnce sync.Once
	p.hooks.Store(&proxyHooks{holding: func(a access) {
		mu.Lock()
		isFirst, after := a.kind == keyed && !firstHeld, firstHeld
		firstHeld = firstHeld || isFirst
		mu.Unlock()
		switch {
		case isFirst:
			close(first)
			select {
			case <-second:
			case <-ctx.Done():
			}
		case after && a.kind == keyed:
			secondOnce.Do(func() { close(second) })
		}
	}})
	t.Cleanup(func() { p.hooks.Store(nil) })

	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i, coll := range colls {
		id := bson.D{e("_id", fmt.Sprint("doc-", i))}
		wg.Go(func() {
			if i > 0 {
				select { // the others start while the first write holds its locks
				case <-first:
				case <-ctx.Done():
					return
				}
				if err := coll.FindOne(ctx, id).Err(); err != nil {
					errs <- err
					return
				}
			}
			for range writes {
				if _, err := coll.UpdateOne(ctx, id, bson.D{e("$inc", bson.D{e("n", 1)})}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	select {
	case <-second:
	case <-ctx.Done():
		t.Fatal("a write by _id held back every other write by _id")
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range clients {
		var got struct{ N int }
		if err := setup.FindOne(ctx, bson.D{e("_id", fmt.Sprint("doc-", i))}).Decode(&got); err != nil || got.N != writes {
			t.Fatalf("doc-%d: n = %d (%v), want %d", i, got.N, err, writes)
		}
	}
	s := p.locks.snapshot()
	if s.peak[keyed] < min(2, most) || s.peak[keyed] > most || s.overlaps != 0 {
		t.Fatalf("peak of keyed writes at once %d, want %d to %d; %d exclusive requests ran beside others",
			s.peak[keyed], min(2, most), most, s.overlaps)
	}
	t.Logf("at most %d keyed writes and %d requests of any kind at once", s.peak[keyed], s.peakAll)
}

// TestProxyExclusiveRunsAlone mixes exclusive requests (inserts, an index,
// claims by another field) with reads and writes by _id, and checks that
// no exclusive one ever ran beside anything; while an insert holds its
// lock, a write by _id and a find that arrive wait for it.
func TestProxyExclusiveRunsAlone(t *testing.T) {
	t.Parallel()
	onBackends(t, func(t *testing.T, ctx context.Context, m *Mongo) {
		const docs, workers = 40, 6
		db := connectMongo(t, ctx, m.URI()).Database("app")
		var pending []any
		for i := range docs {
			pending = append(pending, bson.D{e("_id", i), e("phase", "pending"), e("n", 0)})
		}
		if _, err := db.Collection("jobs").InsertMany(ctx, pending); err != nil {
			t.Fatal(err)
		}

		// An insert that holds its lock until a write by _id and a find
		// are waiting behind it.
		p := proxyOf(m)
		inserting, release := make(chan struct{}), make(chan struct{})
		keyedWaiting, findWaiting := make(chan struct{}), make(chan struct{})
		var gate, keyedOnce, findOnce, released sync.Once
		open := func() { released.Do(func() { close(release) }) }
		t.Cleanup(open) // a failure below must not leave the insert, and Close, waiting
		armed := make(chan struct{})
		p.hooks.Store(&proxyHooks{
			holding: func(a access) {
				if a.command == "insert" {
					gate.Do(func() {
						close(inserting)
						<-release
					})
				}
			},
			waiting: func(a access) {
				select {
				case <-armed:
				default:
					return
				}
				switch {
				case a.command == "update":
					keyedOnce.Do(func() { close(keyedWaiting) })
				case a.command == "find":
					findOnce.Do(func() { close(findWaiting) })
				}
			},
		})
		t.Cleanup(func() { p.hooks.Store(nil) })
		insert, upd, find := connectMongo(t, ctx, m.URI()).Database("app"), // connected before the gate closes
			connectMongo(t, ctx, m.URI()).Database("app"), connectMongo(t, ctx, m.URI()).Database("app")
		insertDone := make(chan error, 1)
		go func() {
			_, err := insert.Collection("other").InsertOne(ctx, bson.D{e("_id", "gate")})
			insertDone <- err
		}()
		<-inserting
		close(armed)
		updDone := make(chan error, 1)
		go func() {
			_, err := upd.Collection("jobs").UpdateOne(ctx, bson.D{e("_id", 0)}, bson.D{e("$inc", bson.D{e("n", 1)})})
			updDone <- err
		}()
		findDone := make(chan error, 1)
		go func() { findDone <- find.Collection("jobs").FindOne(ctx, bson.D{e("_id", 1)}).Err() }()
		<-keyedWaiting
		<-findWaiting
		if s := p.locks.snapshot(); s.running != [3]int{exclusive: 1} {
			t.Fatalf("requests holding locks beside the insert: %v, want the insert alone", s.running)
		}
		open()
		for _, done := range []chan error{insertDone, updDone, findDone} {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}

		// Claims pick documents by phase: exclusive, or two workers
		// would get the same one.
		claims := make(chan int, docs*2)
		var wg sync.WaitGroup
		errs := make(chan error, 3*workers)
		for w := range workers {
			jobs := connectMongo(t, ctx, m.URI()).Database("app").Collection("jobs")
			wg.Go(func() {
				for {
					var got struct {
						ID int `bson:"_id"`
					}
					err := jobs.FindOneAndUpdate(ctx, bson.D{e("phase", "pending")},
						bson.D{e("$set", bson.D{e("phase", "claimed"), e("worker", w)})}).Decode(&got)
					if errors.Is(err, mongo.ErrNoDocuments) {
						return
					}
					if err != nil {
						errs <- err
						return
					}
					claims <- got.ID
				}
			})
			wg.Go(func() { // writes by _id and reads beside the claims
				for i := range docs / workers {
					if _, err := jobs.UpdateOne(ctx, bson.D{e("_id", i*workers+w)}, bson.D{e("$inc", bson.D{e("n", 1)})}); err != nil {
						errs <- err
						return
					}
					if err := jobs.FindOne(ctx, bson.D{e("_id", i)}).Err(); err != nil {
						errs <- err
						return
					}
				}
			})
			wg.Go(func() { // inserts beside both
				other := jobs.Database().Collection("other")
				for i := range 3 {
					if _, err := other.InsertOne(ctx, bson.D{e("_id", fmt.Sprint(w, "-", i))}); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		if _, err := db.Collection("other").Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{e("x", 1)}}); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		close(errs)
		close(claims)
		for err := range errs {
			t.Fatal(err)
		}
		seen := map[int]int{}
		for id := range claims {
			seen[id]++
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("job %d claimed %d times", id, n)
			}
		}
		if len(seen) != docs {
			t.Errorf("%d jobs claimed, want %d", len(seen), docs)
		}
		s := p.locks.snapshot()
		if s.overlaps != 0 || s.peak[exclusive] != 1 {
			t.Fatalf("%d exclusive requests ran beside others (at most %d exclusive at once)", s.overlaps, s.peak[exclusive])
		}
		t.Logf("peaks: %d exclusive, %d reads, %d keyed writes, %d of any kind", s.peak[exclusive], s.peak[read], s.peak[keyed], s.peakAll)
	})
}

// BenchmarkProxyKeyedWrites runs updates by _id of different documents
// through the proxy from one client at a time, then from 8 at once, and
// reports how much faster the concurrent run was (x-concurrent/serial: the
// serial run's time over the concurrent one's).
func BenchmarkProxyKeyedWrites(b *testing.B) {
	const clients, docs = 8, 400
	bench := func(b *testing.B, m *Mongo, ctx context.Context) {
		c, err := mongo.Connect(options.Client().ApplyURI(m.URI()))
		if err != nil {
			b.Fatal(err)
		}
		defer c.Disconnect(context.Background())
		coll := c.Database("bench").Collection("docs")
		var all []any
		for i := range docs {
			all = append(all, bson.D{e("_id", fmt.Sprint("doc-", i)), e("n", 0)})
		}
		if _, err := coll.InsertMany(ctx, all); err != nil {
			b.Fatal(err)
		}
		run := func(concurrency int) time.Duration {
			start := time.Now()
			var wg sync.WaitGroup
			for w := range concurrency {
				wg.Go(func() {
					for i := w; i < docs; i += concurrency {
						if _, err := coll.UpdateOne(ctx, bson.D{e("_id", fmt.Sprint("doc-", i))}, bson.D{e("$inc", bson.D{e("n", 1)})}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			return time.Since(start)
		}
		run(clients) // warm the connection pool and FerretDB's caches
		var serial, concurrent time.Duration
		for b.Loop() {
			serial += run(1)
			concurrent += run(clients)
		}
		b.ReportMetric(float64(serial.Milliseconds())/float64(b.N), "serial-ms")
		b.ReportMetric(float64(concurrent.Milliseconds())/float64(b.N), "concurrent-ms")
		b.ReportMetric(serial.Seconds()/concurrent.Seconds(), "x-concurrent/serial")
	}
	b.Run("sqlite", func(b *testing.B) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		m, err := StartMongo(ctx, MongoOptions{})
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		bench(b, m, ctx)
	})
	b.Run("postgresql", func(b *testing.B) {
		_, ctx, m := startOnPostgreSQL(b)
		bench(b, m, ctx)
	})
}
