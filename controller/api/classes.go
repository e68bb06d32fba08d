package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/skalds-go/skalds/controller/api/wire"
	"github.com/skalds-go/skalds/controller/monitor"
	"github.com/skalds-go/skalds/controller/schema"
	"github.com/skalds-go/skalds/runtime/task"
)

// AttachmentsValidation describes, in GET /api, how attachments are
// checked; it is the policy of package schema.
const AttachmentsValidation = "On POST /api/tasks and PUT /api/tasks/{id}/attachments, attachments are checked " +
	"against the JSON Schema (2020-12) that online nodes publish for the class in the Redis hash " +
	"skalds:{nodeId}:schemas; a mismatch is refused with 422 and every failing field as a JSON path ($.field), " +
	"and nothing is written. If online nodes publish different schemas, the attachments must match every one of them, " +
	"so that no node can loosen the checks of a class; such conflicts are listed by GET /api/classes " +
	"(schemaConflict), GET /api/skalds (schemaConflicts) and the schema endpoint (X-Skalds-Schema-Conflict). " +
	"If no online node publishes a schema for the class, the attachments are accepted unchecked " +
	"(header X-Skalds-Attachments-Checked: false) and the node validates them when it runs the task."

// checkedHeader tells the client whether the attachments it sent were
// checked against a published schema.
const checkedHeader = "X-Skalds-Attachments-Checked"

// checkAttachments validates att against the schemas published for class.
// It answers the 422 itself and returns false when they do not match.
func (s *Server) checkAttachments(w http.ResponseWriter, r *http.Request, class string, att []byte) bool {
	snap := s.snapshot()
	if snap == nil {
		w.Header().Set(checkedHeader, "false")
		return true
	}
	res, err := s.val.Check(att, snap.Schemas(class))
	if err != nil {
		// Broken schemas are the node's bug; the node validates anyway.
		s.log.Warn("no usable JSON Schema for the class; attachments accepted unchecked", "className", class, "err", err)
	}
	w.Header().Set(checkedHeader, fmt.Sprint(res.Checked))
	if res.Valid() {
		return true
	}
	s.d.Metrics.SchemaRejected()
	fields := make([]fieldError, len(res.Errors))
	for i, fe := range res.Errors {
		fields[i] = fieldError{Path: fe.Path, Message: fe.Message}
	}
	s.fail(w, r, http.StatusUnprocessableEntity,
		fmt.Sprintf("attachments do not match the schema of class %s (published by %s)", class, strings.Join(res.Nodes, ", ")),
		fields...)
	return false
}

// classInfo is one entry of GET /api/classes.
type classInfo = wire.Class

// listClasses lists the classes that online nodes can run.
func (s *Server) listClasses(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.nodes(w, r)
	if !ok {
		return
	}
	out := s.classes(snap)
	s.writeJSON(w, http.StatusOK, wire.ClassList{Items: out, Total: len(out)})
}

// classes returns the classes that the online nodes of snap register or
// publish a schema for, by name.
func (s *Server) classes(snap *monitor.Snapshot) []classInfo {
	byName := map[string]*classInfo{}
	for _, n := range snap.Nodes {
		if !n.Online {
			continue
		}
		names := append([]string(nil), n.Classes...)
		for c := range n.Schemas {
			names = append(names, c)
		}
		for _, c := range names {
			ci := byName[c]
			if ci == nil {
				ci = &classInfo{ClassName: c}
				byName[c] = ci
			}
			if len(ci.Nodes) == 0 || ci.Nodes[len(ci.Nodes)-1] != n.ID {
				ci.Nodes = append(ci.Nodes, n.ID)
			}
			if _, has := n.Schemas[c]; has {
				ci.HasSchema = true
			}
		}
	}
	out := make([]classInfo, 0, len(byName))
	for _, ci := range byName {
		srcs := snap.Schemas(ci.ClassName)
		ci.SchemaSources = make([][]string, len(srcs))
		for i, src := range srcs {
			ci.SchemaSources[i] = src.Nodes
		}
		ci.SchemaConflict = len(srcs) > 1
		ci.ProgressSchema = s.reportSchema(ci, "progress", snap.ProgressSchemas(ci.ClassName))
		ci.ResultSchema = s.reportSchema(ci, "result", snap.ResultSchemas(ci.ClassName))
		out = append(out, *ci)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ClassName < out[j].ClassName })
	return out
}

// reportSchema picks, of the distinct schemas of what a class reports (its
// progress or its result), the most published one that is JSON, and notes
// in ci.Problems when nodes disagree or publish something that is not.
// Nodes of one class may differ during a rolling upgrade: a reader then
// renders every task by the most published schema, and the fields it does
// not describe are shown as they are.
func (s *Server) reportSchema(ci *classInfo, what string, srcs []schema.Source) json.RawMessage {
	var valid []schema.Source
	for _, src := range srcs {
		if json.Valid(src.Schema) {
			valid = append(valid, src)
			continue
		}
		ci.Problems = append(ci.Problems, fmt.Sprintf("the %s schema that %s publishes is not JSON; it is left out", what, strings.Join(src.Nodes, ", ")))
		s.log.Warn("a node publishes a schema that is not JSON", "className", ci.ClassName, "schema", what, "nodes", src.Nodes)
	}
	if len(valid) == 0 {
		return nil
	}
	if len(valid) > 1 {
		groups := make([]string, len(valid))
		for i, src := range valid {
			groups[i] = strings.Join(src.Nodes, ",")
		}
		ci.Problems = append(ci.Problems, fmt.Sprintf("online nodes publish %d different %s schemas (by %s); the most published is given",
			len(valid), what, strings.Join(groups, "; ")))
	}
	return json.RawMessage(valid[0].Schema)
}

// classSchema answers the schema most online nodes publish for the class,
// as the document itself, with the publishing nodes in X-Skalds-Nodes and,
// when nodes publish different schemas, the conflict in
// X-Skalds-Schema-Conflict.
func (s *Server) classSchema(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.nodes(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	srcs := snap.Schemas(name)
	if len(srcs) == 0 {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("no online node publishes a schema for class %s; its attachments are accepted unchecked", name))
		return
	}
	if _, err := s.val.Compile(srcs[0].Schema); err != nil {
		s.fail(w, r, http.StatusBadGateway, fmt.Sprintf("the schema %s publishes for class %s is broken: %v", strings.Join(srcs[0].Nodes, ", "), name, err))
		return
	}
	w.Header().Set("Content-Type", "application/schema+json")
	w.Header().Set("X-Skalds-Nodes", strings.Join(srcs[0].Nodes, ","))
	if len(srcs) > 1 {
		// The body is the most published schema, from which the dashboard
		// builds its form; the others bind the attachments too.
		groups := make([]string, len(srcs))
		for i, src := range srcs {
			groups[i] = strings.Join(src.Nodes, ",")
		}
		w.Header().Set("X-Skalds-Schema-Conflict", fmt.Sprintf("%d different schemas are published (by %s); attachments must satisfy all of them",
			len(srcs), strings.Join(groups, "; ")))
	}
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(srcs[0].Schema)
}

// getClass is GET /api/classes/{name}: the class as GET /api/classes
// lists it (progress and result schemas included), every node that
// registered it, online or not, the attachments schemas online nodes
// publish for it, and its tasks by status (one aggregation). A name that
// no node registered and no task names is answered 404.
func (s *Server) getClass(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.nodes(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	counts, err := s.d.Store.CountByStatusOf(r.Context(), task.Filter{Class: name})
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := wire.ClassDetail{Class: wire.Class{ClassName: name, Nodes: []string{}, SchemaSources: [][]string{}},
		Registered: []wire.ClassNode{}, Schemas: []wire.ClassSchema{}, Tasks: map[string]int64{}, Unserved: !snap.Serves(name)}
	for _, ci := range s.classes(snap) {
		if ci.ClassName == name {
			out.Class = ci
		}
	}
	for _, n := range snap.Nodes {
		if _, has := n.Schemas[name]; !has && !n.Supports(name) {
			continue
		}
		cn := wire.ClassNode{ID: n.ID, Type: n.Mode, Online: n.Online}
		for _, t := range n.Tasks {
			if t.ClassName == name {
				cn.Running++
			}
		}
		c := capacityOf(n)
		cn.MaxTasks = c.MaxTasks
		if k, ok := c.ClassLimits[name]; ok && k > 0 {
			cn.ClassLimit = &k
		}
		out.Registered = append(out.Registered, cn)
	}
	for _, src := range snap.Schemas(name) {
		cs := wire.ClassSchema{Nodes: src.Nodes}
		if _, err := s.val.Compile(src.Schema); err != nil {
			cs.Error = fmt.Sprintf("the schema does not compile: %v; fix the class on %s", err, strings.Join(src.Nodes, ", "))
		} else {
			cs.Schema = src.Schema
		}
		out.Schemas = append(out.Schemas, cs)
	}
	for _, st := range task.Statuses {
		out.Tasks[string(st)] = 0
	}
	for st, n := range counts {
		out.Tasks[st] += n
		out.TotalTasks += n
	}
	if out.TotalTasks == 0 && len(out.Registered) == 0 {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("class %q is unknown: no node in the registry registered it and no task names it; GET /api/classes lists the classes online nodes serve", name))
		return
	}
	s.writeJSON(w, http.StatusOK, out)
}
