// Package soak is a fault-injection soak of the whole system: 3 nodes and
// 2 controllers as processes of their own, a few hundred tasks and a
// stream of typed updates, while a seeded random schedule kills and
// restarts processes, cuts their links to MongoDB, Redis and Kafka,
// restarts those servers, takes them away from everyone at once, and
// duplicates, delays and reorders Kafka events. It checks its invariants
// while it runs and at the end.
//
// It runs only when SKALDS_SOAK names a duration (.ci/run sets 2m):
//
//	SKALDS_SOAK=30m SKALDS_SOAK_SEED=42 go test ./integration/soak -run TestSoak -v -timeout 40m
package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skalds-go/skalds/embedded"
	"github.com/skalds-go/skalds/example/worker"
	"github.com/skalds-go/skalds/runtime/client"
	"github.com/skalds-go/skalds/runtime/event"
	"github.com/skalds-go/skalds/runtime/task"
	"github.com/skalds-go/skalds/skaldtest"
)

// tasks is how many tasks the soak runs: SKALDS_SOAK_TASKS, default 200.
var tasks = 200

const (
	nodes       = 3
	controllers = 2
	// partitionSlack is how long a worker whose node lost Redis may run on
	// after another node started the task: the controller moves the task
	// once the node's heartbeat is stale, and the old node stops its copy
	// when it hears of the reassignment, at its next reconcile at the
	// latest. A node that is still starting its tasks (one reconcile, its
	// Running writes in chunks) reconciles again only after that: on a
	// 2-core machine at a load of 20, a restarted node cut from Redis
	// stopped a moved copy 10.6 s after the new one started.
	partitionSlack = reconcilePeriod + 10*time.Second
	// settleMargin is added to the node timeout, one dispatch interval and
	// one reconcile period for everything to run as it should after the
	// last fault: 200 workers restart on a loaded 2-core machine.
	settleMargin = 20 * time.Second
)

func TestSoak(t *testing.T) {
	spec := os.Getenv("SKALDS_SOAK")
	if spec == "" {
		t.Skip("the soak runs when SKALDS_SOAK names a duration, such as SKALDS_SOAK=2m")
	}
	length, err := time.ParseDuration(spec)
	if err != nil || length <= 0 {
		t.Fatalf("SKALDS_SOAK=%q: want a positive duration such as 2m or 30m", spec)
	}
	if n := os.Getenv("SKALDS_SOAK_TASKS"); n != "" {
		if tasks, err = strconv.Atoi(n); err != nil || tasks < 10 {
			t.Fatalf("SKALDS_SOAK_TASKS=%q: want an integer of at least 10", n)
		}
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SKALDS_SOAK_SEED"); s != "" {
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("SKALDS_SOAK_SEED=%q: want an unsigned integer", s)
		}
	}
	t.Logf("soak: seed %d (SKALDS_SOAK_SEED=%d reproduces the schedule), %v of faults", seed, seed, length)
	s := newSoak(t, seed)
	defer func() {
		if t.Failed() {
			t.Logf("soak failed; reproduce with SKALDS_SOAK=%s SKALDS_SOAK_SEED=%d", spec, seed)
		}
	}()
	s.start()
	s.createTasks()
	s.awaitRunning()
	s.run(length)
	s.heal()
	s.settle()
	s.report()
}

// soak is one run: the servers, the processes and what they logged.
type soak struct {
	t   *testing.T
	ctx context.Context
	rng *rand.Rand
	// The servers are the soak's own, so that it can restart them: Kafka
	// (kfake, keeping its data on disk) behind a gate that cuts one
	// process's links, FerretDB and miniredis.
	kafka *embedded.Kafka
	gate  *skaldtest.KafkaGate
	mongo *embedded.Mongo
	redis *embedded.Redis
	cli   *client.Client
	typed *worker.MySimpleWorkerClient
	pub   *event.Publisher
	uid   string
	procs []*proc
	watch *watch

	mu        sync.Mutex
	faults    map[string]int
	down      map[string]bool // servers being restarted or away from everyone
	acked     map[string]ack  // the newest update of each task the client saw applied
	cancelled map[string]bool
	updates   map[string]int // the update stream's outcomes
	// maybeCancelled are the tasks whose cancel failed: it may have been
	// written before the error.
	maybeCancelled map[string]bool
}

// ack is an update the client saw applied: its version and its marker.
type ack struct {
	version int64
	url     string
}

func newSoak(t *testing.T, seed uint64) *soak {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &soak{t: t, ctx: ctx, rng: rand.New(rand.NewPCG(seed, seed^0x5eed)),
		uid:    strconv.FormatUint(seed%1e6, 36) + strconv.FormatInt(time.Now().UnixNano()%1e6, 36),
		faults: map[string]int{}, down: map[string]bool{}, updates: map[string]int{}, acked: map[string]ack{}, cancelled: map[string]bool{}, maybeCancelled: map[string]bool{}, watch: newWatch()}
	s.watch.strict = os.Getenv("SKALDS_SOAK_STRICT") == "1"
	// Every server is the soak's own, never a shared peer: it restarts
	// them. Redis could not be shared anyway: the node registry is global
	// to a Redis, and the soak's controllers would dispatch its tasks to
	// the nodes of other tests (or soaks) running on it. Kafka is kfake,
	// whose listener the gate wraps: a relay cannot cut a Kafka client,
	// which dials the address the broker advertises.
	var err error
	s.gate = skaldtest.NewKafkaGate()
	if s.kafka, err = embedded.StartKafka(embedded.KafkaOptions{Dir: t.TempDir(), Listen: s.gate.Listen}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.kafka.Close)
	if s.mongo, err = embedded.StartMongo(ctx, embedded.MongoOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.mongo.Close() })
	if s.redis, err = embedded.StartRedis(embedded.RedisOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.redis.Close)
	cfg, err := skaldtest.Config(s.kafka.Addr(), s.mongo.URI(), s.redis.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if s.cli, err = client.New(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.cli.Close() })
	s.typed = worker.NewMySimpleWorkerClient(s.cli)
	s.pub = event.NewPublisher(event.Broker{Addr: s.kafka.Addr()})
	t.Cleanup(func() { _ = s.pub.Close() })
	return s
}

func (s *soak) count(what string) {
	s.mu.Lock()
	s.updates[what]++
	s.mu.Unlock()
}

func (s *soak) fault(kind string) {
	s.mu.Lock()
	s.faults[kind]++
	s.mu.Unlock()
}

func (s *soak) taskID(i int) string { return fmt.Sprintf("soak-%s-%03d", s.uid, i) }

// start launches the nodes and the controllers and waits for the nodes.
func (s *soak) start() {
	mongoHost := strings.TrimSuffix(strings.TrimPrefix(s.mongo.URI(), "mongodb://"), "/")
	for i := 0; i < nodes; i++ {
		s.procs = append(s.procs, s.newProc(fmt.Sprintf("node-%d", i+1), "node", mongoHost))
	}
	for i := 0; i < controllers; i++ {
		s.procs = append(s.procs, s.newProc(fmt.Sprintf("controller-%d", i+1), "controller", mongoHost))
	}
	for _, p := range s.procs {
		p.launch()
	}
	for _, p := range s.procs {
		if p.role == "node" {
			p.awaitReady(time.Minute)
		}
	}
}

// createTasks creates the tasks with the typed client; the controllers
// dispatch them.
func (s *soak) createTasks() {
	for i := 0; i < tasks; i++ {
		id := s.taskID(i)
		if err := s.typed.Create(s.ctx, id, model(id, 0)); err != nil {
			s.t.Fatalf("creating %s: %v", id, err)
		}
	}
}

// awaitRunning waits until every task runs, before the first fault.
func (s *soak) awaitRunning() {
	began := time.Now()
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Minute)
	defer cancel()
	ids := make([]string, tasks)
	for i := range ids {
		ids[i] = s.taskID(i)
	}
	for {
		docs, err := s.cli.Tasks().GetMany(ctx, ids)
		running := 0
		for _, d := range docs {
			if d.LifecycleStatus == task.Running {
				running++
			}
		}
		if err == nil && running == tasks {
			s.t.Logf("all %d tasks running %v after their creation", tasks, time.Since(began).Round(100*time.Millisecond))
			return
		}
		select {
		case <-ctx.Done():
			s.t.Fatalf("%d of %d tasks running after %v (last error: %v)", running, tasks, time.Since(began), err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// model is the attachments of update n of task id: the URL is unique to
// the update, so a worker's log says which one it runs with.
func model(id string, n int) worker.MySimpleDataModel {
	return worker.MySimpleDataModel{RTSPURL: fmt.Sprintf("rtsp://soak.invalid/%s/%d", id, n), FixFrame: 1 + n%1000}
}

// run injects faults for length while updaters and a canceller work.
func (s *soak) run(length time.Duration) {
	ctx, cancel := context.WithTimeout(s.ctx, length)
	defer cancel()
	var wg sync.WaitGroup
	// Two updaters, each owning half the tasks, so that the updates of one
	// task are sequential and a later version is a later update.
	for u := 0; u < 2; u++ {
		rng := rand.New(rand.NewPCG(s.rng.Uint64(), uint64(u)))
		wg.Go(func() { s.updater(ctx, rng, u) })
	}
	crng := rand.New(rand.NewPCG(s.rng.Uint64(), 7))
	wg.Go(func() { s.canceller(ctx, crng) })
	erng := rand.New(rand.NewPCG(s.rng.Uint64(), 9))
	wg.Go(func() { s.eventFaults(ctx, erng) })
	check := time.NewTicker(time.Second)
	defer check.Stop()
	faults := s.faultLoop(ctx)
	for {
		select {
		case <-ctx.Done():
			<-faults
			wg.Wait()
			return
		case <-check.C:
			s.watch.checkOverlaps(s.t, false)
		}
	}
}

// faultLoop injects one process, link or server fault every 2 to 5 s,
// chosen by the seeded RNG, until ctx ends; the returned channel closes
// when every fault it started has been undone.
func (s *soak) faultLoop(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	rng := rand.New(rand.NewPCG(s.rng.Uint64(), 3))
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		defer wg.Wait()
		for {
			pace := time.Duration(2000+rng.IntN(3000)) * time.Millisecond
			select {
			case <-ctx.Done():
				return
			case <-time.After(pace): // the soak's own pacing of faults, seeded
			}
			outage := time.Duration(1000+rng.IntN(7000)) * time.Millisecond
			p := s.procs[rng.IntN(len(s.procs))]
			switch k := rng.IntN(12); {
			case k < 3:
				if !p.kill() {
					continue
				}
				s.fault("kill -9 " + p.role)
				s.t.Logf("fault: kill -9 %s, restart in %v", p.name, outage)
				wg.Go(func() { s.pause(outage); p.launch() })
			case k < 5:
				s.cut(&wg, p, "mongo", outage, "cut "+p.role+"↔MongoDB")
			case k < 7:
				s.cut(&wg, p, "redis", outage, "cut "+p.role+"↔Redis")
			case k < 9:
				s.cut(&wg, p, "kafka", outage, "cut "+p.role+"↔Kafka")
			default:
				// A server is restarted (it closes every connection, refuses
				// new ones while down, and comes back with its data, as one
				// with persistence does), or, less often, stays up but is
				// cut from everyone at once. Kept under the node timeout
				// less a beat, as a restart is.
				server := servers[rng.IntN(len(servers))]
				short := time.Duration(500+rng.IntN(2000)) * time.Millisecond
				if k < 11 {
					s.restart(server, short)
				} else {
					s.outage(server, short)
				}
			}
		}
	}()
	return done
}

// servers are the links a fault can cut, and the servers it can restart.
var servers = []string{"mongo", "redis", "kafka"}

// restart restarts server, down for down; the processes cannot reach it
// meanwhile, which the watch is told.
func (s *soak) restart(server string, down time.Duration) {
	s.fault("restart " + server)
	s.t.Logf("fault: restart of %s, down for %v", server, down)
	s.setDown(server, true)
	defer s.setDown(server, false)
	var err error
	switch server {
	case "mongo":
		err = s.mongo.Restart(s.ctx, down)
	case "redis":
		err = s.redis.Restart(s.ctx, down)
	default:
		err = s.kafka.Restart(s.ctx, down)
	}
	if err != nil && s.ctx.Err() == nil {
		s.t.Errorf("restarting %s: %v", server, err)
	}
}

// outage cuts every process's link to server for d: the server stays up
// and keeps its connections' state, but no process reaches it.
func (s *soak) outage(server string, d time.Duration) {
	s.fault("outage (every link cut) " + server)
	s.t.Logf("fault: %s away from everyone for %v", server, d)
	s.setDown(server, true)
	for _, q := range s.procs {
		q.cutLink(server)
	}
	s.pause(d)
	for _, q := range s.procs {
		q.restoreLink(server)
	}
	s.setDown(server, false)
}

// setDown records that no process reaches server (or that they do again),
// and tells the watch.
func (s *soak) setDown(server string, down bool) {
	s.mu.Lock()
	s.down[server] = down
	s.mu.Unlock()
	for _, p := range s.procs {
		p.sync(server)
	}
}

func (s *soak) isDown(server string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down[server]
}

func (s *soak) cut(wg *sync.WaitGroup, p *proc, server string, outage time.Duration, kind string) {
	if p.isCut(server) {
		return
	}
	p.cutLink(server)
	s.fault(kind)
	s.t.Logf("fault: %s of %s for %v", kind, p.name, outage)
	wg.Go(func() { s.pause(outage); p.restoreLink(server) })
}

// pause waits d, the seeded length of a fault, or less if the soak ends.
func (s *soak) pause(d time.Duration) {
	select {
	case <-s.ctx.Done():
	case <-time.After(d):
	}
}

// updater updates random tasks of its half with the typed client and
// waits for each to be applied; an update applied is acknowledged.
func (s *soak) updater(ctx context.Context, rng *rand.Rand, half int) {
	n := map[string]int{}
	for ctx.Err() == nil {
		i := 2*rng.IntN(tasks/2) + half
		id := s.taskID(i)
		s.mu.Lock()
		gone := s.cancelled[id] || s.maybeCancelled[id]
		s.mu.Unlock()
		if gone {
			continue
		}
		n[id]++
		m := model(id, n[id])
		v, err := s.typed.Update(ctx, id, m)
		if err != nil {
			s.count("updates not stored (store error)")
			// Not acknowledged: MongoDB may be slow or away. A pause keeps
			// the updater from adding a storm of writes to its load.
			s.pause(250 * time.Millisecond)
			continue
		}
		wait, cancel := context.WithTimeout(ctx, 15*time.Second)
		err = s.cli.WaitApplied(wait, id, v, 200*time.Millisecond)
		cancel()
		if err != nil {
			s.count("updates stored, not seen applied")
			continue
		}
		s.mu.Lock()
		s.updates["updates acknowledged as applied"]++
		if v > s.acked[id].version {
			s.acked[id] = ack{version: v, url: m.RTSPURL}
		}
		s.mu.Unlock()
	}
}

// canceller cancels a tenth of the tasks over the run.
func (s *soak) canceller(ctx context.Context, rng *rand.Rand) {
	for left := tasks / 10; left > 0 && ctx.Err() == nil; {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(500+rng.IntN(2000)) * time.Millisecond):
		}
		id := s.taskID(rng.IntN(tasks))
		s.mu.Lock()
		done := s.cancelled[id]
		s.mu.Unlock()
		if done {
			continue
		}
		if err := s.typed.Cancel(ctx, id); err != nil {
			// The write may have landed all the same: the task may end
			// Cancelled or not.
			s.mu.Lock()
			s.maybeCancelled[id] = true
			s.mu.Unlock()
			continue
		}
		s.mu.Lock()
		s.cancelled[id] = true
		s.mu.Unlock()
		s.fault("task cancelled")
		left--
	}
}

// eventFaults publishes extra events with runtime/event's publisher:
// duplicates of task.assign and task.update.attachment for any task, and
// of task.cancel for cancelled tasks (a bare task.cancel is a cancel in
// Python Skalds, so one for a live task would be a request, not a fault);
// some are held back and sent later, in reverse order.
func (s *soak) eventFaults(ctx context.Context, rng *rand.Rand) {
	type held struct {
		topic string
		ev    event.TaskEvent
	}
	var late []held
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(200+rng.IntN(800)) * time.Millisecond):
		}
		topic := []string{event.TopicAssign, event.TopicUpdateAttachment, event.TopicCancel}[rng.IntN(3)]
		id := s.taskID(rng.IntN(tasks))
		if topic == event.TopicCancel {
			s.mu.Lock()
			var ids []string
			for c := range s.cancelled {
				ids = append(ids, c)
			}
			s.mu.Unlock()
			if len(ids) == 0 {
				continue
			}
			sort.Strings(ids)
			id = ids[rng.IntN(len(ids))]
		}
		ev := event.NewTaskEvent(id)
		switch rng.IntN(3) {
		case 0: // duplicated
			if s.pub.PublishMany(ctx, topic, ev, ev) == nil {
				s.fault("duplicated " + topic)
			}
		case 1: // delayed, then sent in reverse order
			late = append(late, held{topic, ev})
			if len(late) < 5 {
				continue
			}
			for i := len(late) - 1; i >= 0; i-- {
				if s.pub.Publish(ctx, late[i].topic, late[i].ev) == nil {
					s.fault("delayed+reordered " + late[i].topic)
				}
			}
			late = late[:0]
		default:
			if s.pub.Publish(ctx, topic, ev) == nil {
				s.fault("extra " + topic)
			}
		}
	}
}

// heal undoes every fault: links restored, dead processes restarted.
func (s *soak) heal() {
	for _, p := range s.procs {
		for _, server := range servers {
			for p.isCut(server) {
				p.restoreLink(server)
			}
		}
		if !p.running() {
			p.launch()
		}
	}
	for _, p := range s.procs {
		if p.role == "node" {
			p.awaitReady(time.Minute)
		}
	}
}

// settle waits, at most the node timeout plus one dispatch interval and
// one reconcile period plus settleMargin, until every task is where it
// should be; what is not then is a violation.
func (s *soak) settle() {
	bound := nodeTimeout + dispatchInterval + reconcilePeriod + settleMargin
	healed := time.Now()
	var problems []string
	for {
		problems = s.endState()
		if len(problems) == 0 || time.Since(healed) > bound {
			break
		}
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
	s.t.Logf("settled %v after the last fault (bound: node timeout %v + dispatch %v + reconcile %v + margin %v)",
		time.Since(healed).Round(100*time.Millisecond), nodeTimeout, dispatchInterval, reconcilePeriod, settleMargin)
	for i, p := range problems {
		if i == 20 {
			s.t.Errorf("... and %d more", len(problems)-20)
			break
		}
		s.t.Errorf("stuck or wrong after the bound: %s", p)
	}
	s.watch.checkOverlaps(s.t, true)
}

// endState lists what is not yet as it must end: every task there; a
// cancelled one Cancelled with no worker, its release run; any other
// Running on a live node whose worker runs it, with the newest
// attachments applied, at least as new as the newest acknowledged update.
func (s *soak) endState() []string {
	ids := make([]string, tasks)
	for i := range ids {
		ids[i] = s.taskID(i)
	}
	docs, err := s.cli.Tasks().GetMany(s.ctx, ids)
	if err != nil {
		return []string{"reading the tasks: " + err.Error()}
	}
	byID := map[string]task.Task{}
	for _, d := range docs {
		byID[d.ID] = d
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var problems []string
	for _, id := range ids {
		d, ok := byID[id]
		if !ok {
			problems = append(problems, id+": lost, not in MongoDB")
			continue
		}
		live := s.watch.liveOn(id)
		if s.maybeCancelled[id] && d.LifecycleStatus == task.Cancelled {
			s.cancelled[id] = true
		}
		if s.cancelled[id] {
			if d.LifecycleStatus != task.Cancelled {
				problems = append(problems, fmt.Sprintf("%s: cancelled, but %s", id, d.LifecycleStatus))
			}
			if len(live) > 0 {
				problems = append(problems, fmt.Sprintf("%s: cancelled, but a worker runs on %v", id, live))
			}
			continue
		}
		exec := ""
		if d.Executor != nil {
			exec = *d.Executor
		}
		if d.LifecycleStatus != task.Running {
			problems = append(problems, fmt.Sprintf("%s: %s on %q, want Running", id, d.LifecycleStatus, exec))
			continue
		}
		if len(live) != 1 || nodeOf(live[0]) != exec {
			problems = append(problems, fmt.Sprintf("%s: Running on %q, workers live on %v", id, exec, live))
			continue
		}
		a := s.acked[id]
		if d.AttachmentsVersion < a.version {
			problems = append(problems, fmt.Sprintf("%s: stored attachments version %d is older than the acknowledged %d", id, d.AttachmentsVersion, a.version))
			continue
		}
		m, err := worker.DecodeMySimpleDataModel(d.Attachments)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: stored attachments: %v", id, err))
			continue
		}
		if d.AttachmentsVersion == a.version && a.version > 0 && m.RTSPURL != a.url {
			problems = append(problems, fmt.Sprintf("%s: version %d stores %s, the acknowledged update was %s", id, a.version, m.RTSPURL, a.url))
		}
		if d.AppliedAttachmentsVersion != d.AttachmentsVersion {
			problems = append(problems, fmt.Sprintf("%s: applied version %d of %d", id, d.AppliedAttachmentsVersion, d.AttachmentsVersion))
			continue
		}
		if got := s.watch.paramsOf(live[0], id); got != m.RTSPURL {
			problems = append(problems, fmt.Sprintf("%s: the worker on %s last logged %q, want %q (version %d)", id, live[0], got, m.RTSPURL, d.AttachmentsVersion))
		}
	}
	return problems
}

// report prints the faults and the invariants' results, and checks the
// release of every cancelled task.
func (s *soak) report() {
	s.mu.Lock()
	kinds := make([]string, 0, len(s.faults))
	for k := range s.faults {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var b strings.Builder
	for _, k := range kinds {
		fmt.Fprintf(&b, "\n  %-40s %d", k, s.faults[k])
	}
	s.t.Logf("faults injected:%s", b.String())
	// A Kafka cut is real only if the gate sees each process's id.
	seen := s.gate.Clients()
	dropped := 0
	for _, p := range s.procs {
		if !slices.Contains(seen, p.id) {
			s.t.Errorf("%s never connected to Kafka as client %q (seen: %v): the gate cannot cut its links", p.name, p.id, seen)
		}
		dropped += s.gate.Dropped(p.id)
	}
	s.t.Logf("Kafka cuts and outages closed or refused %d connections of the nodes and controllers", dropped)
	s.t.Logf("update stream: %v", s.updates)
	var cancelled []string
	for id := range s.cancelled {
		cancelled = append(cancelled, id)
	}
	acked := len(s.acked)
	s.mu.Unlock()
	sort.Strings(cancelled)
	killed := 0
	for _, id := range cancelled {
		switch s.watch.lastEnd(id) {
		case endReleased, endNeverRan:
		case endKilled:
			killed++ // kill -9 ends a process before any hook can run
		default:
			s.t.Errorf("%s: cancelled, but its last worker's release did not run", id)
		}
	}
	st := s.watch.stats()
	s.t.Logf("invariants: %d worker starts; overlaps of two workers of one task (never of one epoch; an older epoch's copy stopped within %v plus any MongoDB cut of its node): "+
		"%d after a Redis cut, %d with no Redis cut (longest %v; SKALDS_SOAK_STRICT=1 fails these), longest of all %v; "+
		"%d tasks with an acknowledged update checked in effect; %d cancelled, release ran or the task never ran for %d, killed by kill -9 before release for %d",
		st.starts, partitionSlack, st.partitioned, st.strict, st.longestStrict.Round(time.Millisecond), st.longest.Round(time.Millisecond),
		acked, len(cancelled), len(cancelled)-killed, killed)
	s.watch.mu.Lock()
	late, longestLate := s.watch.late, s.watch.longestLate
	s.watch.mu.Unlock()
	if late > 0 {
		s.t.Logf("found: %d copies of an older epoch ran on past their allowance (at least %v of overlap when seen); SKALDS_SOAK_STRICT=1 fails them", late, longestLate.Round(time.Millisecond))
	}
	if st.strict > 0 {
		s.t.Logf("found: %d overlaps with no Redis cut: a copy ran on after its task moved although its node could beat to Redis; "+
			"rerun with SKALDS_SOAK_LOGS=dir and read both nodes' records of the task (a worker started without its Running write has caused this before)", st.strict)
	}
}
