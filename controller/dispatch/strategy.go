package dispatch

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
)

// Strategy says which of the nodes able to take a task gets it.
type Strategy string

// The strategies, spelled as DISPATCHER_STRATEGY spells them.
const (
	// LeastTasks picks the node with the fewest assigned tasks; ties go to
	// the smallest id, so that a decision can be reproduced.
	LeastTasks Strategy = "LEAST_TASKS"
	// RoundRobin hands tasks to the able nodes in turn, in id order,
	// remembering across cycles where it stopped. (Python's version was
	// hash(id) % n, which is neither a rotation nor stable across
	// restarts.)
	RoundRobin Strategy = "ROUND_ROBIN"
	// Random picks uniformly among the able nodes.
	Random Strategy = "RANDOM"
)

// ParseStrategy reads a strategy name. Unlike Python, which fell back to
// LEAST_TASKS with a warning on every decision, an unknown name is an
// error at start: a typo should not silently change placement.
func ParseStrategy(s string) (Strategy, error) {
	switch st := Strategy(strings.ToUpper(strings.TrimSpace(s))); st {
	case "":
		return LeastTasks, nil
	case LeastTasks, RoundRobin, Random:
		return st, nil
	}
	return "", fmt.Errorf("dispatcher strategy %q is unknown; use LEAST_TASKS, ROUND_ROBIN or RANDOM", s)
}

// candidate is a node able to take the task at hand, with its load.
type candidate struct {
	id   string
	load int
}

// chooser holds what a strategy remembers between decisions.
type chooser struct {
	strategy Strategy
	last     string // ROUND_ROBIN: the node chosen last
	rnd      *rand.Rand
}

func newChooser(s Strategy, seed uint64) *chooser {
	return &chooser{strategy: s, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// choose picks one of cs, which is not empty, and returns its index.
func (c *chooser) choose(cs []candidate) int {
	switch c.strategy {
	case RoundRobin:
		// The first node after the last one chosen, in id order, wrapping
		// around: a rotation that survives nodes coming and going.
		order := make([]int, len(cs))
		for i := range cs {
			order[i] = i
		}
		sort.Slice(order, func(a, b int) bool { return cs[order[a]].id < cs[order[b]].id })
		pick := order[0]
		for _, i := range order {
			if cs[i].id > c.last {
				pick = i
				break
			}
		}
		c.last = cs[pick].id
		return pick
	case Random:
		return c.rnd.IntN(len(cs))
	default:
		best := 0
		for i, cd := range cs {
			if cd.load < cs[best].load || (cd.load == cs[best].load && cd.id < cs[best].id) {
				best = i
			}
		}
		return best
	}
}
