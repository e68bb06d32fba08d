package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Figures of a process tree from /proc (Linux only): a node and, for
// Python, the worker processes it forked.

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat; it
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// descendants returns the pids of every live process below pid. Zombies
// (a Python Skald does not always reap the workers it stopped) hold no
// memory and run nothing, so they are left out.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := stat(p); err == nil && st.state != "Z" {
			children[st.ppid] = append(children[st.ppid], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		q := queue[0]
		queue = queue[1:]
		for _, c := range children[q] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

type procStat struct {
	state string
	ppid  int
	ticks int64 // utime + stime
}

func stat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from the last ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return procStat{state: f[0], ppid: ppid, ticks: ut + st}, nil
}

// kB returns the value of key (in kB) in a /proc file of pid.
func kB(pid int, file, key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// memory returns the RSS and PSS (kB) of pid and its descendants, and how
// many processes that is.
func memory(pid int) (rss, pss int64, processes int, err error) {
	if _, err := stat(pid); err != nil {
		return 0, 0, 0, err
	}
	all := append([]int{pid}, descendants(pid)...)
	for _, p := range all {
		rss += kB(p, "status", "VmRSS")
		pss += kB(p, "smaps_rollup", "Pss")
	}
	return rss, pss, len(all), nil
}

// busy returns how many cores pid and its descendants kept busy over
// window: the CPU time of the processes alive at both ends, divided by
// the window.
func busy(ctx context.Context, pid int, window time.Duration) (float64, error) {
	snap := func() map[int]int64 {
		m := map[int]int64{}
		for _, p := range append([]int{pid}, descendants(pid)...) {
			if st, err := stat(p); err == nil {
				m[p] = st.ticks
			}
		}
		return m
	}
	before, t0 := snap(), time.Now()
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(window):
	}
	after, elapsed := snap(), time.Since(t0)
	var ticks int64
	for p, t := range after {
		if b, ok := before[p]; ok {
			ticks += t - b
		}
	}
	return float64(ticks) / clockTicks / elapsed.Seconds(), nil
}

func redisHExists(ctx context.Context, addr, key, field string) (bool, error) {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	return c.HExists(ctx, key, field).Result()
}
