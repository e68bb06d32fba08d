package render

import (
	"github.com/dave/jennifer/jen"
	"github.com/skalds-go/skalds/internal/gen/model"
)

// This file renders the comparison of two versions of a model by the
// update policies of its fields (//skald:restart, //skald:immutable): it
// reports whether a restart is needed and the paths of changed immutable
// fields. Values are equal when they encode to the same JSON, which is
// how a task stores them.

// strictest returns, per struct, the strictest policy of any field it
// holds or reaches.
func strictest(p *model.Package) map[*model.Struct]model.Policy {
	pol := make(map[*model.Struct]model.Policy)
	for changed := true; changed; {
		changed = false
		for _, s := range p.Structs {
			for _, f := range s.Fields {
				if q := max(f.Policy, typePolicy(f.Type, pol)); q > pol[s] {
					pol[s] = q
					changed = true
				}
			}
		}
	}
	return pol
}

func typePolicy(t *model.Type, pol map[*model.Struct]model.Policy) model.Policy {
	switch t.Kind {
	case model.StructKind:
		return pol[t.Struct]
	case model.Pointer, model.Slice, model.Array, model.Map:
		return typePolicy(t.Elem, pol)
	}
	return model.Hot
}

type cgen struct {
	r   *renderer
	pol map[*model.Struct]model.Policy
	n   int
}

func (c *cgen) local(prefix string) string {
	c.n++
	return prefix + itoa(c.n)
}

// node declares a Path variable for at when at is a member; decls is
// empty otherwise.
func (c *cgen) node(at pathRef) (decls []jen.Code, node pathRef) {
	if !at.hasMember {
		return nil, at
	}
	name := c.local("p")
	return []jen.Code{jen.Id(name).Op(":=").Add(at.recv()).Dot("Member").Call(jen.Lit(at.member))}, localPath(name)
}

// mark records a change of the value at at under policy q.
func (c *cgen) mark(q model.Policy, at pathRef) []jen.Code {
	if q == model.Restart {
		return []jen.Code{jen.Id("ch").Dot("Restart").Op("=").True()}
	}
	stmts, node := c.node(at)
	return append(stmts, jen.Id("ch").Dot("Immutable").Op("=").Append(jen.Id("ch").Dot("Immutable"), node.recv().Dot("String").Call()))
}

func (r *renderer) changesStruct(f *jen.File, s *model.Struct, pol map[*model.Struct]model.Policy) {
	f.Line()
	f.Func().Id("changes"+s.Name).Params(
		jen.Id("ch").Op("*").Qual(skaldPkg, "Change"),
		jen.Id("p").Op("*").Qual(codecPkg, "Path"),
		jen.List(jen.Id("m"), jen.Id("m2")).Op("*").Id(s.Name),
	).BlockFunc(func(g *jen.Group) {
		c := &cgen{r: r, pol: pol}
		p := func() *jen.Statement { return jen.Id("p") }
		for _, fd := range s.Fields {
			at := pathRef{ptr: p, recv: p, member: fd.JSONName, hasMember: true}
			a, b := memberLval("m", fd.GoName), memberLval("m2", fd.GoName)
			if fd.Policy != model.Hot {
				g.If(c.differ(fd.Type, a, b)).Block(c.mark(fd.Policy, at)...)
				continue
			}
			if typePolicy(fd.Type, pol) != model.Hot {
				addAll(g, c.value(fd.Type, a, b, at))
			}
		}
	})
}

// differ is the condition that a and b, of type t, differ.
func (c *cgen) differ(t *model.Type, a, b lval) jen.Code {
	switch t.Kind {
	case model.String, model.Bool, model.Int, model.Uint, model.Float, model.Duration:
		return a.expr().Op("!=").Add(b.expr())
	}
	enc := func(l lval) jen.Code {
		return jen.Func().Params(jen.Id("w").Op("*").Qual(codecPkg, "Writer")).Block(c.r.encode(t, l, 0, false)...)
	}
	return jen.Op("!").Qual(codecPkg, "SameJSON").Call(enc(a), enc(b))
}

// value compares a and b, hot themselves, for the policies of what they
// hold. A collection whose length or keys changed counts as a change of
// the whole under the strictest policy inside.
func (c *cgen) value(t *model.Type, a, b lval, at pathRef) []jen.Code {
	q := typePolicy(t, c.pol)
	if q == model.Hot {
		return nil
	}
	switch t.Kind {
	case model.StructKind:
		stmts, node := c.node(at)
		return append(stmts, jen.Id("changes"+t.Struct.Name).Call(jen.Id("ch"), node.ptr(), a.addr(), b.addr()))
	case model.Pointer:
		return []jen.Code{jen.If(jen.Parens(a.expr().Op("==").Nil()).Op("!=").Parens(b.expr().Op("==").Nil())).Block(c.mark(q, at)...).
			Else().If(a.expr().Op("!=").Nil()).Block(c.value(t.Elem, a.elem(), b.elem(), at)...)}
	case model.Slice, model.Array:
		stmts, node := c.node(at)
		i, pe := c.local("i"), c.local("p")
		loop := jen.For(jen.Id(i).Op(":=").Range().Add(a.expr())).Block(
			append([]jen.Code{jen.Id(pe).Op(":=").Add(node.recv()).Dot("Index").Call(jen.Id(i))},
				c.value(t.Elem, a.index(i), b.index(i), localPath(pe))...)...)
		if t.Kind == model.Array {
			return append(stmts, loop)
		}
		return []jen.Code{jen.If(jen.Len(a.expr()).Op("!=").Len(b.expr())).Block(c.mark(q, at)...).Else().Block(append(stmts, loop)...)}
	case model.Map:
		stmts, node := c.node(at)
		k, va, vb, pe := c.local("k"), c.local("v"), c.local("v"), c.local("p")
		key := jen.Id(k)
		if !t.Key.Exact {
			key = jen.String().Call(jen.Id(k))
		}
		sorted := jen.Qual("slices", "Sorted").Call(jen.Qual("maps", "Keys").Call(a.expr()))
		body := []jen.Code{
			jen.Id(va).Op(",").Id(vb).Op(":=").Add(a.index(k).expr()).Op(",").Add(b.index(k).expr()),
			jen.Id(pe).Op(":=").Add(node.recv()).Dot("MapKey").Call(key),
		}
		body = append(body, c.value(t.Elem, localLval(va), localLval(vb), localPath(pe))...)
		stmts = append(stmts, jen.For(jen.List(jen.Id("_"), jen.Id(k)).Op(":=").Range().Add(sorted)).Block(body...))
		return []jen.Code{jen.If(jen.Op("!").Qual(codecPkg, "SameKeys").Call(a.expr(), b.expr())).Block(c.mark(q, at)...).Else().Block(stmts...)}
	}
	return nil
}
