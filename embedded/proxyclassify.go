package embedded

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strings"
)

// accessKind says what a request may run beside.
type accessKind int

const (
	// exclusive requests run alone: nothing else reaches FerretDB meanwhile.
	exclusive accessKind = iota
	// read requests run beside reads and keyed writes.
	read
	// keyed writes run beside reads and beside keyed writes of other
	// documents; two that name the same document run one after the other.
	keyed
)

func (k accessKind) String() string {
	switch k {
	case read:
		return "read"
	case keyed:
		return "keyed"
	default:
		return "exclusive"
	}
}

// access is what the proxy must lock before forwarding one request.
type access struct {
	kind    accessKind
	command string   // the command's name, when the message could be read
	keys    []string // keyed: the documents written, sorted and deduplicated
}

const (
	flagChecksumPresent = 1 << 0
	flagExhaustAllowed  = 1 << 16
)

// readCommands run beside keyed writes: each reads whole rows, which
// PostgreSQL and SQLite never show half-written, and keeps its state (a
// cursor, a SASL conversation) on its own connection. Anything not listed
// here, or among the keyed writes, is exclusive.
var readCommands = map[string]bool{
	"find": true, "getMore": true, "killCursors": true, "count": true, "distinct": true,
	"aggregate": true, "explain": true,
	"listCollections": true, "listIndexes": true, "listDatabases": true,
	"hello": true, "isMaster": true, "ismaster": true, "ping": true,
	"buildInfo": true, "buildinfo": true, "saslStart": true, "saslContinue": true,
	"endSessions": true, "dbStats": true, "dbstats": true, "collStats": true, "dataSize": true,
	"connectionStatus": true, "whatsmyuri": true, "getParameter": true, "getCmdLineOpts": true,
	"hostInfo": true, "listCommands": true, "serverStatus": true, "getLog": true,
}

// explainable are the commands whose explain is a read: FerretDB plans them
// without running them, and none of them writes anyway.
var explainable = map[string]bool{"find": true, "count": true, "distinct": true, "aggregate": true}

// classify tells what req, one whole wire message as readMsg returns it,
// needs locked. Whatever it cannot read, or does not know to be safe beside
// other requests, is exclusive: the old, fully serialized path. It never
// panics, whatever the bytes.
func classify(req []byte) access {
	body, seqs, ok := opMsgSections(req)
	if !ok {
		return access{kind: exclusive}
	}
	command := firstKey(body)
	if command == "" || !uniqueKeys(body) {
		// FerretDB and this reader might disagree about which of two equal
		// keys counts.
		return access{kind: exclusive, command: command}
	}
	for ident := range seqs {
		if _, _, found := elementValue(body, ident); found {
			// FerretDB lets the sequence replace the field: refuse to guess.
			return access{kind: exclusive, command: command}
		}
	}
	a := access{kind: exclusive, command: command}
	switch command {
	case "update":
		a.keys, ok = statementKeys(body, seqs, command, "updates", "q")
	case "delete":
		a.keys, ok = statementKeys(body, seqs, command, "deletes", "q")
	case "findAndModify", "findandmodify":
		a.keys, ok = findAndModifyKey(body, seqs, command)
	case "aggregate":
		ok = len(seqs) == 0 && pipelineReads(body)
	case "explain":
		inner, isDoc := docValue(body, "explain")
		ok = len(seqs) == 0 && isDoc && explainable[firstKey(inner)] && (firstKey(inner) != "aggregate" || pipelineReads(inner))
	default:
		ok = len(seqs) == 0 && readCommands[command]
	}
	switch {
	case !ok:
		a.keys = nil
	case a.keys != nil:
		a.kind = keyed
	default:
		a.kind = read
	}
	return a
}

// opMsgSections splits an OP_MSG into its body (section kind 0) and its
// document sequences (kind 1, by identifier). It refuses other opcodes,
// unknown required flag bits, a second body, a repeated identifier, and
// anything malformed.
func opMsgSections(msg []byte) (body []byte, seqs map[string][][]byte, ok bool) {
	le := binary.LittleEndian
	if len(msg) < 21 || int(le.Uint32(msg)) != len(msg) || le.Uint32(msg[12:16]) != opMsg {
		return nil, nil, false
	}
	flags := le.Uint32(msg[16:20])
	if flags&^(flagChecksumPresent|flagMoreToCome|flagExhaustAllowed) != 0 {
		return nil, nil, false
	}
	end := len(msg)
	if flags&flagChecksumPresent != 0 {
		end -= 4
	}
	for pos := 20; pos < end; {
		kind := msg[pos]
		pos++
		switch kind {
		case 0:
			n, isDoc := docLen(msg[pos:end])
			if !isDoc || body != nil {
				return nil, nil, false
			}
			body = msg[pos : pos+n]
			pos += n
		case 1:
			if end-pos < 4 {
				return nil, nil, false
			}
			size := int(int32(le.Uint32(msg[pos:])))
			if size < 5 || size > end-pos {
				return nil, nil, false
			}
			seq := msg[pos+4 : pos+size]
			pos += size
			nul := bytes.IndexByte(seq, 0)
			if nul < 0 {
				return nil, nil, false
			}
			ident := string(seq[:nul])
			if _, twice := seqs[ident]; twice {
				return nil, nil, false
			}
			var docs [][]byte
			for rest := seq[nul+1:]; len(rest) > 0; {
				n, isDoc := docLen(rest)
				if !isDoc {
					return nil, nil, false
				}
				docs = append(docs, rest[:n])
				rest = rest[n:]
			}
			if seqs == nil {
				seqs = map[string][][]byte{}
			}
			seqs[ident] = docs
		default:
			return nil, nil, false
		}
	}
	return body, seqs, body != nil
}

// statementKeys returns the lock keys of an update or delete whose every
// statement (in field of the body, or in the document sequence of that
// name) filters, in filterField, on one plain _id. ok is false otherwise.
func statementKeys(body []byte, seqs map[string][][]byte, command, field, filterField string) (keys []string, ok bool) {
	prefix, ok := namespace(body, command)
	if !ok {
		return nil, false
	}
	stmts, inSeq := seqs[field]
	if !inSeq {
		if len(seqs) != 0 {
			return nil, false
		}
		arr, typ, _ := elementValue(body, field)
		if typ != bsonArray || !eachElement(arr, func(typ byte, _, val []byte) bool {
			stmts = append(stmts, val)
			return typ == bsonDocument
		}) {
			return nil, false
		}
	} else if len(seqs) != 1 {
		return nil, false
	}
	if len(stmts) == 0 {
		return nil, false
	}
	for _, stmt := range stmts {
		if _, _, collation := elementValue(stmt, "collation"); collation || !uniqueKeys(stmt) {
			return nil, false
		}
		filter, isDoc := docValue(stmt, filterField)
		if !isDoc {
			return nil, false
		}
		id, ok := idKey(filter)
		if !ok {
			return nil, false
		}
		keys = append(keys, prefix+id)
	}
	slices.Sort(keys)
	return slices.Compact(keys), true
}

// findAndModifyKey returns the lock key of a findAndModify whose query
// filters on one plain _id.
func findAndModifyKey(body []byte, seqs map[string][][]byte, command string) ([]string, bool) {
	prefix, ok := namespace(body, command)
	if _, _, collation := elementValue(body, "collation"); !ok || collation || len(seqs) != 0 {
		return nil, false
	}
	filter, isDoc := docValue(body, "query")
	if !isDoc {
		return nil, false
	}
	id, ok := idKey(filter)
	if !ok {
		return nil, false
	}
	return []string{prefix + id}, true
}

// namespace is the start of a write's lock keys: its database and
// collection, lowercased so that names differing only in case share locks
// (more locking, never less). A NUL inside a name could make two
// namespaces share a prefix, which again only locks more.
func namespace(body []byte, command string) (string, bool) {
	coll, ok := stringValue(body, command)
	if !ok {
		return "", false
	}
	db, ok := stringValue(body, "$db")
	if !ok {
		return "", false
	}
	return strings.ToLower(db) + "\x00" + strings.ToLower(coll) + "\x00", true
}

// idKey returns, for a filter with exactly one top-level _id whose value is
// a plain scalar, that value as a key that is equal for every two values
// MongoDB's equality would match: numbers of any type are keyed by their
// float64 value (so 1, 1.0 and int64 1 share a key, and so may values that
// differ beyond float64's precision: more locking, never less). Other
// conditions in the filter only narrow the match to that one document.
// Documents, arrays, regexes, null and Decimal128 are not plain: such a
// filter is not keyed.
func idKey(filter []byte) (string, bool) {
	var key []byte
	count := 0
	if !eachElement(filter, func(typ byte, k, val []byte) bool {
		if string(k) != "_id" {
			return true
		}
		count++
		key = scalarKey(typ, val)
		return true
	}) || count != 1 || key == nil {
		return "", false
	}
	return string(key), true
}

// scalarKey is val's key, or nil for a type that is not keyed.
func scalarKey(typ byte, val []byte) []byte {
	le := binary.LittleEndian
	var f float64
	switch typ {
	case bsonDouble:
		f = math.Float64frombits(le.Uint64(val))
	case bsonInt32:
		f = float64(int32(le.Uint32(val)))
	case bsonInt64:
		f = float64(int64(le.Uint64(val)))
	case bsonString:
		return append([]byte{'s'}, val[4:len(val)-1]...)
	case bsonObjectID, bsonDateTime, bsonTimestamp, bsonBinary:
		return append([]byte{typ}, val...)
	case bsonBoolean:
		if val[0] > 1 {
			return nil
		}
		return append([]byte{typ}, val...)
	default:
		return nil
	}
	switch {
	case f == 0:
		f = 0 // -0 matches 0
	case math.IsNaN(f):
		f = math.NaN() // every NaN matches every other
	}
	return le.AppendUint64([]byte{'n'}, math.Float64bits(f))
}

// pipelineReads reports whether an aggregate's pipeline is an array of
// stages none of which writes ($out, $merge).
func pipelineReads(cmd []byte) bool {
	stages, typ, _ := elementValue(cmd, "pipeline")
	return typ == bsonArray && eachElement(stages, func(typ byte, _, stage []byte) bool {
		if typ != bsonDocument {
			return false
		}
		name := firstKey(stage)
		return name != "" && name != "$out" && name != "$merge"
	})
}

// BSON element types that the classifier tells apart.
const (
	bsonDouble    = 0x01
	bsonString    = 0x02
	bsonDocument  = 0x03
	bsonArray     = 0x04
	bsonBinary    = 0x05
	bsonObjectID  = 0x07
	bsonBoolean   = 0x08
	bsonDateTime  = 0x09
	bsonTimestamp = 0x11
	bsonInt32     = 0x10
	bsonInt64     = 0x12
)

// docLen returns the length of the BSON document at the start of b, if its
// length prefix fits in b and it ends in NUL.
func docLen(b []byte) (int, bool) {
	if len(b) < 5 {
		return 0, false
	}
	n := int(int32(binary.LittleEndian.Uint32(b)))
	if n < 5 || n > len(b) || b[n-1] != 0 {
		return 0, false
	}
	return n, true
}

// eachElement calls fn with the type, key and value bytes of each element
// of the document doc, until fn returns false. It reports whether doc was
// well-formed (as far as it was read) and fn never returned false; every
// value fn sees is long enough for its type.
func eachElement(doc []byte, fn func(typ byte, key, val []byte) bool) bool {
	n, ok := docLen(doc)
	if !ok {
		return false
	}
	rest := doc[4 : n-1]
	for len(rest) > 0 {
		typ := rest[0]
		nul := bytes.IndexByte(rest[1:], 0)
		if nul < 0 {
			return false
		}
		key := rest[1 : 1+nul]
		rest = rest[2+nul:]
		size, ok := valueLen(typ, rest)
		if !ok {
			return false
		}
		if !fn(typ, key, rest[:size]) {
			return false
		}
		rest = rest[size:]
	}
	return true
}

// valueLen is the length of the value of type typ at the start of b.
func valueLen(typ byte, b []byte) (int, bool) {
	le := binary.LittleEndian
	n := 0
	switch typ {
	case 0x02, 0x0D, 0x0E: // string, JavaScript code, symbol: length, bytes, NUL
		if len(b) < 4 {
			return 0, false
		}
		n = 4 + int(int32(le.Uint32(b)))
		if n < 5 || n > len(b) || b[n-1] != 0 {
			return 0, false
		}
		return n, true
	case 0x03, 0x04: // document, array
		return docLen(b)
	case 0x05: // binary: length, subtype, bytes
		if len(b) < 4 {
			return 0, false
		}
		n = int(int32(le.Uint32(b)))
		if n < 0 || n > len(b)-5 {
			return 0, false
		}
		n += 5
	case 0x0B: // regex: two C strings
		first := bytes.IndexByte(b, 0)
		if first < 0 {
			return 0, false
		}
		second := bytes.IndexByte(b[first+1:], 0)
		if second < 0 {
			return 0, false
		}
		return first + second + 2, true
	case 0x0C: // DBPointer: string, ObjectID
		s, ok := valueLen(0x02, b)
		if !ok {
			return 0, false
		}
		n = s + 12
	case 0x0F: // code with scope: total length, string, document
		if len(b) < 4 {
			return 0, false
		}
		n = int(int32(le.Uint32(b)))
		if n < 14 {
			return 0, false
		}
	case 0x06, 0x0A, 0x7F, 0xFF: // undefined, null, max key, min key
		n = 0
	case 0x08: // boolean
		n = 1
	case 0x10: // int32
		n = 4
	case 0x01, 0x09, 0x11, 0x12: // double, datetime, timestamp, int64
		n = 8
	case 0x07: // ObjectID
		n = 12
	case 0x13: // Decimal128
		n = 16
	default:
		return 0, false
	}
	if n < 0 || n > len(b) {
		return 0, false
	}
	return n, true
}

// elementValue returns the value and type of the first element named key
// in doc, and whether there is one.
func elementValue(doc []byte, key string) (val []byte, typ byte, found bool) {
	eachElement(doc, func(t byte, k, v []byte) bool {
		if string(k) == key {
			val, typ, found = v, t, true
			return false
		}
		return true
	})
	return val, typ, found
}

// docValue returns the embedded document named key in doc.
func docValue(doc []byte, key string) ([]byte, bool) {
	val, typ, _ := elementValue(doc, key)
	return val, typ == bsonDocument
}

// stringValue returns the string named key in doc.
func stringValue(doc []byte, key string) (string, bool) {
	val, typ, _ := elementValue(doc, key)
	if typ != bsonString {
		return "", false
	}
	return string(val[4 : len(val)-1]), true
}

// firstKey is the name of doc's first element: a command's name, or an
// aggregation stage's.
func firstKey(doc []byte) string {
	var name string
	eachElement(doc, func(_ byte, k, _ []byte) bool {
		name = string(k)
		return false
	})
	return name
}

// uniqueKeys reports whether doc is well-formed and no key in it repeats.
func uniqueKeys(doc []byte) bool {
	var seen [][]byte
	return eachElement(doc, func(_ byte, k, _ []byte) bool {
		for _, s := range seen {
			if bytes.Equal(s, k) {
				return false
			}
		}
		seen = append(seen, k)
		return true
	})
}
