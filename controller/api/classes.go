package api

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/skalds-go/skalds/controller/api/wire"
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
		out = append(out, *ci)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ClassName < out[j].ClassName })
	s.writeJSON(w, http.StatusOK, wire.ClassList{Items: out, Total: len(out)})
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
