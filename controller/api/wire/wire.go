// Package wire holds the request and response shapes of the controller's
// REST API, as Go types: the API writes its answers with them, the Go
// client (package controller/api/client) and the tests read them back
// with the same types, so that a field is spelled in one place.
//
// The shapes are those of the Python SystemController (camelCase keys,
// the same envelopes), with the Go additions documented on each type.
package wire

import (
	"encoding/json"

	"github.com/skalds-go/skalds/runtime/task"
)

// Error is the body of every error answer.
type Error struct {
	Error      string       `json:"error"`
	StatusCode int          `json:"status_code"`
	Path       string       `json:"path"`
	Fields     []FieldError `json:"fields,omitempty"`
	// Incident is set on a 500: the id under which the controller's log
	// holds the detail.
	Incident string `json:"incident,omitempty"`
}

// FieldError is one invalid field of a request, by JSON path.
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// Success is Python's SuccessResponse, with typed data.
type Success[T any] struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
	Data    T      `json:"data"`
}

// Root is GET / and GET /api.
type Root struct {
	Name                  string            `json:"name"`
	Status                string            `json:"status"`
	Endpoints             map[string]string `json:"endpoints"`
	AttachmentsValidation string            `json:"attachmentsValidation"`
	Info
}

// Info is what the controller says of itself in Root.
type Info struct {
	Mode     string `json:"mode,omitempty"`
	Version  string `json:"version,omitempty"`
	Strategy string `json:"strategy,omitempty"`
	Auth     bool   `json:"auth"`
	Kafka    bool   `json:"kafka"`
}

// Task is Python's TaskResponse with the Go additions after Priority.
type Task struct {
	ID              string          `json:"id"`
	ClassName       string          `json:"className"`
	LifecycleStatus task.Status     `json:"lifecycleStatus"`
	Executor        *string         `json:"executor"`
	CreateDateTime  int64           `json:"createDateTime"`
	UpdateDateTime  int64           `json:"updateDateTime"`
	Mode            task.Mode       `json:"mode"`
	Attachments     json.RawMessage `json:"attachments"`
	Heartbeat       int             `json:"heartbeat"`
	Error           *string         `json:"error"`
	Exception       *string         `json:"exception"`
	Priority        int             `json:"priority"`

	Source                    string          `json:"source"`
	Name                      *string         `json:"name"`
	Description               *string         `json:"description"`
	Dependencies              []string        `json:"dependencies"`
	IsPersistent              bool            `json:"isPersistent"`
	DeadlineDateTime          int64           `json:"deadlineDateTime"`
	AttachmentsVersion        int64           `json:"attachmentsVersion"`
	AppliedAttachmentsVersion int64           `json:"appliedAttachmentsVersion"`
	AttachmentsRejection      *task.Rejection `json:"attachmentsRejection"`
	AssignmentEpoch           int64           `json:"assignmentEpoch"`
	Attempts                  int             `json:"attempts"`
	AssignedDateTime          *int64          `json:"assignedDateTime"`
	Refusal                   *task.Refusal   `json:"refusal"`
	Stuck                     *string         `json:"stuck"`
	// ErrorKind is which kind of failure ended a Failed task
	// (task.FailureKind); RetryAt, after a retry-later one, is when the
	// controller may retry it, in epoch ms.
	ErrorKind task.FailureKind `json:"errorKind,omitempty"`
	RetryAt   *int64           `json:"retryAt,omitempty"`
	// LastBeat is when the controller last saw the heartbeat change, in
	// epoch ms on its own clock; null when no node lists the task.
	// Heartbeat is a counter: LastBeat is what says whether the worker
	// still beats.
	LastBeat *int64 `json:"lastBeat"`
	// Unserved is set on a task that has not ended when no online node
	// registered its class: no node will run it until one does.
	Unserved bool `json:"unserved,omitempty"`
	// Progress is the worker's newest stored progress (JSON of its
	// class's progress type), ProgressDateTime when it was stored, in
	// epoch ms; Result the result stored with the terminal status.
	// Absent when none.
	Progress         json.RawMessage `json:"progress,omitempty"`
	ProgressDateTime int64           `json:"progressDateTime,omitempty"`
	Result           json.RawMessage `json:"result,omitempty"`
}

// TaskList is GET /api/tasks: one page, newest first.
type TaskList struct {
	Items    []Task `json:"items"`
	Total    int64  `json:"total"`
	Page     int    `json:"page"`
	PageSize int    `json:"pageSize"`
}

// CreateTask is the body of POST /api/tasks. Only ClassName is required;
// Python's snake_case spellings are accepted too.
type CreateTask struct {
	ID               string          `json:"id,omitempty"`
	ClassName        string          `json:"className"`
	Source           string          `json:"source,omitempty"`
	Name             *string         `json:"name,omitempty"`
	Description      *string         `json:"description,omitempty"`
	Priority         *int            `json:"priority,omitempty"`
	Attachments      json.RawMessage `json:"attachments,omitempty"`
	Mode             string          `json:"mode,omitempty"`
	Executor         string          `json:"executor,omitempty"`
	DeadlineDateTime *int64          `json:"deadlineDateTime,omitempty"`
	Dependencies     []string        `json:"dependencies,omitempty"`
	IsPersistent     *bool           `json:"isPersistent,omitempty"`
}

// UpdateStatus is the body of PUT /api/tasks/{id}/status: Created (run
// the task again) or Cancelled.
type UpdateStatus struct {
	LifecycleStatus task.Status `json:"lifecycleStatus"`
}

// UpdateAttachments is the body of PUT /api/tasks/{id}/attachments.
type UpdateAttachments struct {
	Attachments json.RawMessage `json:"attachments"`
}

// TaskStatus is the data of a cancel or a reset.
type TaskStatus struct {
	TaskID string      `json:"taskId"`
	Status task.Status `json:"status"`
}

// The states of an attachments update (AttachmentsUpdate.State).
const (
	StateStored   = "stored"   // written; nobody waited for the worker
	StateApplied  = "applied"  // the worker applied them
	StateRejected = "rejected" // the worker refused them and keeps the previous ones
	StatePending  = "pending"  // the wait ended before the worker answered
)

// AttachmentsUpdate is the data of PUT /api/tasks/{id}/attachments.
type AttachmentsUpdate struct {
	TaskID                    string          `json:"taskId"`
	Attachments               json.RawMessage `json:"attachments"`
	AttachmentsVersion        int64           `json:"attachmentsVersion"`
	AppliedAttachmentsVersion int64           `json:"appliedAttachmentsVersion"`
	LifecycleStatus           task.Status     `json:"lifecycleStatus"`
	State                     string          `json:"state"`
	Rejection                 *task.Rejection `json:"rejection,omitempty"`
}

// TaskHeartbeat is GET /api/tasks/{id}/heartbeat.
type TaskHeartbeat struct {
	TaskID           string      `json:"taskId"`
	Heartbeat        int         `json:"heartbeat"`
	Status           task.Status `json:"status"`
	IsAlive          bool        `json:"isAlive"`
	IsAssigning      bool        `json:"isAssigning"`
	Error            *string     `json:"error"`
	Exception        *string     `json:"exception"`
	LastUpdate       int64       `json:"lastUpdate"`
	HeartbeatHistory []int       `json:"heartbeatHistory"`
}

// TaskHistory is GET /api/tasks/{id}/history: the task's most recent
// transitions, oldest first (see task.Entry for their fields and
// task.Event* for their events), with Total the number ever recorded and
// Dropped the older ones no longer kept.
type TaskHistory struct {
	TaskID  string       `json:"taskId"`
	Entries []task.Entry `json:"entries"`
	Total   int64        `json:"total"`
	Dropped int64        `json:"dropped"`
}

// TaskLogs is GET /api/tasks/{id}/logs: records of the task's log, oldest
// first. Next is the cursor to pass as ?after= for the records that
// follow; it is "0-0" for a log that has none yet.
type TaskLogs struct {
	TaskID  string      `json:"taskId"`
	Records []LogRecord `json:"records"`
	Next    string      `json:"next"`
}

// LogRecord is one record a task's worker logged (or the node logged about
// the task), as slog wrote it: Attrs holds its attributes, with skaldId
// and epoch naming the run that wrote it, and truncated when a long
// record was cut.
type LogRecord struct {
	ID    string         `json:"id"`
	Time  int64          `json:"time"` // epoch ms
	Level string         `json:"level"`
	Msg   string         `json:"msg"`
	Attrs map[string]any `json:"attrs,omitempty"`
}

// Skald is Python's SkaldResponse; lastHeartbeat is an integer (epoch
// ms) here, as everywhere else.
type Skald struct {
	ID             string   `json:"id"`
	Type           string   `json:"type"`
	Status         string   `json:"status"`
	LastHeartbeat  int64    `json:"lastHeartbeat"`
	SupportedTasks []string `json:"supportedTasks"`
	CurrentTasks   []string `json:"currentTasks"`
	Heartbeat      int      `json:"heartbeat"`
	TaskCount      int      `json:"taskCount"`
	// SchemaConflicts are the classes for which this node publishes a
	// schema that differs from another online node's: attachments must
	// satisfy both, so an operator should align the nodes.
	SchemaConflicts []string `json:"schemaConflicts"`
}

// SkaldList is GET /api/skalds.
type SkaldList struct {
	Items []Skald `json:"items"`
	Total int     `json:"total"`
}

// SkaldTasks is GET /api/skalds/{id}/tasks.
type SkaldTasks struct {
	SkaldID    string      `json:"skaldId"`
	Tasks      []SkaldTask `json:"tasks"`
	TotalTasks int         `json:"totalTasks"`
}

// SkaldTask is one task of SkaldTasks; AssignedAt is when a controller
// assigned it (epoch ms), null when none did.
type SkaldTask struct {
	ID              string      `json:"id"`
	ClassName       string      `json:"className"`
	LifecycleStatus task.Status `json:"lifecycleStatus"`
	AssignedAt      *int64      `json:"assignedAt"`
}

// SkaldStatistics is GET /api/skalds/summary/statistics.
type SkaldStatistics struct {
	TotalSkalds          int     `json:"totalSkalds"`
	OnlineSkalds         int     `json:"onlineSkalds"`
	OfflineSkalds        int     `json:"offlineSkalds"`
	NodeSkalds           int     `json:"nodeSkalds"`
	EdgeSkalds           int     `json:"edgeSkalds"`
	AvailableNodes       int     `json:"availableNodes"`
	TotalRunningTasks    int     `json:"totalRunningTasks"`
	AverageTasksPerSkald float64 `json:"averageTasksPerSkald"`
	Details              struct {
		OnlineNodes int `json:"onlineNodes"`
		OnlineEdges int `json:"onlineEdges"`
		BusyNodes   int `json:"busyNodes"`
		IdleNodes   int `json:"idleNodes"`
	} `json:"details"`
}

// SkaldStatus is GET /api/skalds/{id}/status. Uptime stays null: nodes
// do not publish their start time.
type SkaldStatus struct {
	SkaldID    string   `json:"skaldId"`
	Status     string   `json:"status"`
	Type       string   `json:"type"`
	Heartbeat  int      `json:"heartbeat"`
	LastUpdate int64    `json:"lastUpdate"`
	TaskCount  int      `json:"taskCount"`
	IsOnline   bool     `json:"isOnline"`
	Uptime     *float64 `json:"uptime"`
	Details    struct {
		CanAcceptTasks   bool         `json:"canAcceptTasks"`
		LastHeartbeatAge int64        `json:"lastHeartbeatAge"`
		Tasks            []RunningRef `json:"tasks"`
		Capacity         Capacity     `json:"capacity"`
	} `json:"details"`
}

// RunningRef is a task a node lists as running.
type RunningRef struct {
	ID        string `json:"id"`
	ClassName string `json:"className"`
}

// Capacity is the limits a node publishes; null or absent is no limit.
type Capacity struct {
	MaxTasks    *int           `json:"maxTasks"`
	ClassLimits map[string]int `json:"classLimits"`
}

// SkaldHeartbeat is GET /api/skalds/{id}/heartbeat.
type SkaldHeartbeat struct {
	SkaldID      string `json:"skaldId"`
	Heartbeat    int    `json:"heartbeat"`
	LastUpdate   int64  `json:"lastUpdate"`
	HeartbeatAge int64  `json:"heartbeatAge"`
	IsOnline     bool   `json:"isOnline"`
	Timestamp    int64  `json:"timestamp"`
}

// SkaldPing is the data of GET /api/skalds/{id}/ping.
type SkaldPing struct {
	SkaldID       string `json:"skaldId"`
	Online        bool   `json:"online"`
	LastHeartbeat int64  `json:"lastHeartbeat"`
	HeartbeatAge  int64  `json:"heartbeatAge"`
}

// Health is GET /api/system/health: healthy, degraded or unhealthy, with
// each service's state.
type Health struct {
	Status    string            `json:"status"`
	Timestamp int64             `json:"timestamp"`
	Services  map[string]string `json:"services"`
}

// Summary is GET /api/system/dashboard/summary.
type Summary struct {
	TotalSkalds    int   `json:"totalSkalds"`
	OnlineSkalds   int   `json:"onlineSkalds"`
	NodeSkalds     int   `json:"nodeSkalds"`
	EdgeSkalds     int   `json:"edgeSkalds"`
	TotalTasks     int64 `json:"totalTasks"`
	CreatedTasks   int64 `json:"createdTasks"`
	AssigningTasks int64 `json:"assigningTasks"`
	RunningTasks   int64 `json:"runningTasks"`
	PausedTasks    int64 `json:"pausedTasks"`
	FinishedTasks  int64 `json:"finishedTasks"`
	FailedTasks    int64 `json:"failedTasks"`
	CancelledTasks int64 `json:"cancelledTasks"`
}

// SystemStatus is GET /api/system/status.
type SystemStatus struct {
	Mode       string      `json:"mode"`
	Components []Component `json:"components"`
	Uptime     float64     `json:"uptime"`
	StartedAt  *int64      `json:"startedAt"`
	Version    string      `json:"version"`
}

// Component is one loop of the controller. Details holds the fields that
// apply to it: the monitors' counts, the dispatcher's settings and last
// cycle, the event streams' clients.
type Component struct {
	Name    string           `json:"name"`
	Running bool             `json:"running"`
	Details ComponentDetails `json:"details"`
}

// ComponentDetails are the details of a Component; a field that does not
// apply to the component is absent.
type ComponentDetails struct {
	Interval          *float64 `json:"interval,omitempty"` // seconds
	Timeout           *float64 `json:"timeout,omitempty"`  // seconds
	MonitoredSkalds   *int     `json:"monitoredSkalds,omitempty"`
	OnlineSkalds      *int     `json:"onlineSkalds,omitempty"`
	LastRefresh       *int64   `json:"lastRefresh,omitempty"`
	MonitoredTasks    *int     `json:"monitoredTasks,omitempty"`
	AliveTasks        *int     `json:"aliveTasks,omitempty"`
	Strategy          string   `json:"strategy,omitempty"`
	MaxClaimsPerCycle *int     `json:"maxClaimsPerCycle,omitempty"`
	LastCycle         *Cycle   `json:"lastCycle,omitempty"`
	AvailableSkalds   *int     `json:"availableSkalds,omitempty"`
	TotalSkaldTasks   *int     `json:"totalSkaldTasks,omitempty"`
	ConnectedClients  *int     `json:"connectedClients,omitempty"`
}

// Cycle is what the dispatcher's last cycle did.
type Cycle struct {
	At         int64  `json:"at"`
	DurationMs int64  `json:"durationMs"`
	Error      string `json:"error"`
	Assigned   int    `json:"assigned"`
	Moved      int    `json:"moved"`
	Released   int    `json:"released"`
	Retried    int    `json:"retried"`
	Conflicts  int    `json:"conflicts"`
	Capped     bool   `json:"capped"`
}

// Version is GET /api/system/version.
type Version struct {
	Version      string            `json:"version"`
	BuildDate    string            `json:"buildDate"`
	GitCommit    string            `json:"gitCommit"`
	GoVersion    string            `json:"goVersion"`
	Dependencies map[string]string `json:"dependencies"`
}

// Metrics is GET /api/system/metrics.
type Metrics struct {
	Timestamp int64 `json:"timestamp"`
	Skalds    struct {
		Total          int `json:"total"`
		Online         int `json:"online"`
		Offline        int `json:"offline"`
		Nodes          int `json:"nodes"`
		Edges          int `json:"edges"`
		AvailableNodes int `json:"availableNodes"`
		BusyNodes      int `json:"busyNodes"`
		IdleNodes      int `json:"idleNodes"`
	} `json:"skalds"`
	Tasks struct {
		Monitored     int64 `json:"monitored"`
		Running       int64 `json:"running"`
		Failed        int64 `json:"failed"`
		Finished      int64 `json:"finished"`
		Cancelled     int64 `json:"cancelled"`
		Assigning     int64 `json:"assigning"`
		Total         int64 `json:"total"`
		TotalAssigned int64 `json:"totalAssigned"`
	} `json:"tasks"`
	Performance struct {
		AverageTasksPerSkald float64        `json:"averageTasksPerSkald"`
		TaskDistribution     map[string]int `json:"taskDistribution"`
		SystemLoad           struct {
			SkaldUtilization float64 `json:"skaldUtilization"`
			NodeUtilization  float64 `json:"nodeUtilization"`
			// CapacityUtilization is the share of the MaxTasks slots
			// that online nodes publish in use; null when none does.
			CapacityUtilization *float64 `json:"capacityUtilization"`
		} `json:"systemLoad"`
	} `json:"performance"`
}

// Distribution is GET /api/system/analytics/tasks/distribution.
type Distribution struct {
	Distribution []StatusCount `json:"distribution"`
	Total        int64         `json:"total"`
	Timestamp    int64         `json:"timestamp"`
}

// StatusCount is the number and share (percent) of tasks in one status.
type StatusCount struct {
	Status     string  `json:"status"`
	Count      int64   `json:"count"`
	Percentage float64 `json:"percentage"`
}

// Activity is GET /api/system/analytics/recent-activity.
type Activity struct {
	Timeframe     string  `json:"timeframe"`
	Hours         int     `json:"hours"`
	Since         int64   `json:"since"`
	TasksCreated  int64   `json:"tasksCreated"`
	TasksUpdated  int64   `json:"tasksUpdated"`
	TasksFinished int64   `json:"tasksFinished"`
	TasksFailed   int64   `json:"tasksFailed"`
	SuccessRate   float64 `json:"successRate"`
}

// Class is one entry of GET /api/classes.
type Class struct {
	ClassName string   `json:"className"`
	Nodes     []string `json:"nodes"`     // online nodes that registered the class
	HasSchema bool     `json:"hasSchema"` // some online node publishes its schema
	// SchemaConflict says that online nodes publish different schemas for
	// the class; attachments must satisfy all of them.
	SchemaConflict bool `json:"schemaConflict"`
	// SchemaSources are the nodes publishing each distinct schema, the
	// most published first.
	SchemaSources [][]string `json:"schemaSources"`
	// ProgressSchema and ResultSchema are the JSON Schemas of the
	// progress the class reports and of the result it sets, as online
	// nodes publish them (the most published, when they differ); absent
	// when no online node publishes one: the class declares no such type,
	// or only Python Skalds serve it. A reader renders a task's progress
	// and result from them without the worker's Go types.
	ProgressSchema json.RawMessage `json:"progressSchema,omitempty"`
	ResultSchema   json.RawMessage `json:"resultSchema,omitempty"`
	// Problems says what is wrong with the published progress and result
	// schemas: nodes that disagree, or a document that is not JSON (which
	// is then left out).
	Problems []string `json:"problems,omitempty"`
}

// ClassList is GET /api/classes; GET /api/classes/{name} answers one
// Class.
type ClassList struct {
	Items []Class `json:"items"`
	Total int     `json:"total"`
}

// ClassDetail is GET /api/classes/{name}: the class as GET /api/classes
// lists it (Nodes, the online nodes that registered it, and its progress
// and result schemas; only ClassName when no online node serves it), with
// what the dashboard's class page shows besides. A class is known when a
// node in the registry registered it or a task names it; any other name is
// answered 404.
type ClassDetail struct {
	Class
	// Registered are the nodes in the registry that registered the class,
	// online or not, by id.
	Registered []ClassNode `json:"registered"`
	// Schemas are the distinct attachments schemas that online nodes
	// publish for the class, the most published first; more than one is
	// a conflict (SchemaConflict), and attachments must satisfy them all.
	Schemas []ClassSchema `json:"schemas"`
	// Tasks counts the class's tasks in MongoDB by lifecycleStatus; every
	// status is present, at 0 when no task has it. TotalTasks is their sum.
	Tasks      map[string]int64 `json:"tasks"`
	TotalTasks int64            `json:"totalTasks"`
	// Unserved is set when no online node registered the class: its
	// tasks wait until one does.
	Unserved bool `json:"unserved"`
}

// ClassNode is a node that registered a class, with what it runs of it.
type ClassNode struct {
	ID     string `json:"id"`
	Type   string `json:"type"` // node or edge
	Online bool   `json:"online"`
	// Running is how many tasks of the class the node lists as running.
	Running int `json:"running"`
	// ClassLimit is the node's published limit for the class, MaxTasks
	// its limit for all classes; null is no limit.
	ClassLimit *int `json:"classLimit"`
	MaxTasks   *int `json:"maxTasks"`
}

// ClassSchema is one attachments schema of a class and the online nodes
// that publish it. A schema that does not compile is null, with Error
// saying why: the nodes that publish it need fixing.
type ClassSchema struct {
	Nodes  []string        `json:"nodes"`
	Schema json.RawMessage `json:"schema"`
	Error  string          `json:"error,omitempty"`
}

// Charts is GET /api/system/charts: samples of the controller's view of
// the system, taken every Interval seconds and kept for Window seconds (at
// most Capacity samples, oldest first). Samples live in the controller's
// memory: they start empty when it starts, and each controller of a
// deployment keeps its own.
type Charts struct {
	Interval float64 `json:"interval"`
	Window   float64 `json:"window"`
	Capacity int     `json:"capacity"`
	// Dispatching says whether this controller assigns tasks; only then
	// do its samples measure dispatch latency.
	Dispatching bool          `json:"dispatching"`
	Samples     []ChartSample `json:"samples"`
}

// ChartSample is one sample of Charts. Counts "in the interval" cover the
// time since the sample before.
type ChartSample struct {
	At int64 `json:"at"` // epoch ms, on the controller's clock
	// Tasks counts the tasks that have not ended (Created, Assigning,
	// Running, Paused) as the event feed last read them; null when the
	// feed had not read MongoDB yet.
	Tasks map[string]int64 `json:"tasks"`
	// Ended counts the tasks that reached Finished, Failed or Cancelled
	// in the interval, as the event feed saw them.
	Ended map[string]int64 `json:"ended"`
	// UpdatesApplied and UpdatesRejected count the workers' answers to
	// attachment updates in the interval.
	UpdatesApplied  int64 `json:"updatesApplied"`
	UpdatesRejected int64 `json:"updatesRejected"`
	// Dispatched counts the first claims this controller made in the
	// interval; DispatchP50Ms and DispatchP99Ms are the median and 99th
	// percentile of their latency from the task's creation, in ms, null
	// when there was none.
	Dispatched    int64    `json:"dispatched"`
	DispatchP50Ms *float64 `json:"dispatchP50Ms"`
	DispatchP99Ms *float64 `json:"dispatchP99Ms"`
	// NodesOnline and NodeTasks are the online nodes and the tasks they
	// list as running, from the registry snapshot.
	NodesOnline int `json:"nodesOnline"`
	NodeTasks   int `json:"nodeTasks"`
}

// EventsStatus is GET /api/events/status.
type EventsStatus struct {
	ConnectedClients int            `json:"connectedClients"`
	Streams          map[string]int `json:"streams"`
	Timestamp        int64          `json:"timestamp"`
	Status           string         `json:"status"`
}

// Event is one server-sent event frame. Type says which: connection,
// resync and test carry a Message; the task_* and skald_* ones carry the
// id and Data (TaskState, TaskError, TaskBeat, TaskException, SkaldState
// or SkaldBeat).
type Event struct {
	Type      string `json:"type"`
	TaskID    string `json:"taskId,omitempty"`
	SkaldID   string `json:"skaldId,omitempty"`
	Message   string `json:"message,omitempty"`
	Data      any    `json:"data,omitempty"`
	Timestamp int64  `json:"timestamp,omitempty"`
}

// TaskState is the data of a task_update event; a change of any field is
// an event.
type TaskState struct {
	LifecycleStatus           task.Status      `json:"lifecycleStatus"`
	Executor                  *string          `json:"executor"`
	AssignmentEpoch           int64            `json:"assignmentEpoch"`
	AttachmentsVersion        int64            `json:"attachmentsVersion"`
	AppliedAttachmentsVersion int64            `json:"appliedAttachmentsVersion"`
	AttachmentsRejection      *task.Rejection  `json:"attachmentsRejection"`
	Attempts                  int              `json:"attempts"`
	Priority                  int              `json:"priority"`
	Error                     string           `json:"error,omitempty"`
	ErrorKind                 task.FailureKind `json:"errorKind,omitempty"`
	Refusal                   *task.Refusal    `json:"refusal,omitempty"`
	UpdateDateTime            int64            `json:"updateDateTime"`
	// Progress is the worker's newest stored progress (JSON of its
	// class's progress type), ProgressDateTime when it was stored, Result
	// the result stored with the terminal status; absent when none.
	Progress         task.Attachments `json:"progress,omitempty"`
	ProgressDateTime int64            `json:"progressDateTime,omitempty"`
	Result           task.Attachments `json:"result,omitempty"`
}

// EventsSession is POST /api/events/session: when the cookie it set stops
// opening the event streams, in epoch ms (0 without a configured token).
type EventsSession struct {
	ExpiresAt int64 `json:"expiresAt"`
}

// TaskError is the data of a task_error event.
type TaskError struct {
	Error           string      `json:"error"`
	LifecycleStatus task.Status `json:"lifecycleStatus"`
}

// TaskBeat is the data of a task_heartbeat event.
type TaskBeat struct {
	Heartbeat       int         `json:"heartbeat"`
	LifecycleStatus task.Status `json:"lifecycleStatus"`
	// LastBeat is as in Task: when the controller saw this beat.
	LastBeat int64 `json:"lastBeat"`
}

// TaskException is the data of a task_exception event.
type TaskException struct {
	Exception       string      `json:"exception"`
	LifecycleStatus task.Status `json:"lifecycleStatus"`
}

// SkaldState is the data of a skald_status event; Removed is set when the
// node left the registry.
type SkaldState struct {
	Status    string `json:"status"`
	TaskCount int    `json:"taskCount"`
	Removed   bool   `json:"removed,omitempty"`
}

// SkaldBeat is the data of a skald_heartbeat event.
type SkaldBeat struct {
	Heartbeat int      `json:"heartbeat"`
	Status    string   `json:"status"`
	Tasks     []string `json:"tasks"`
}

// Config is GET /api/system/config: the controller's settings as Python's
// API shows them (mode, host, port, monitoring, dispatcher, environment,
// logLevel), plus the Go ones, every secret masked. Durations are seconds,
// as in the environment.
type Config struct {
	Mode       string `json:"mode"`
	Host       string `json:"host"`
	Port       int    `json:"port"`
	Monitoring struct {
		SkaldInterval    float64 `json:"skaldInterval"`
		TaskInterval     float64 `json:"taskInterval"`
		HeartbeatTimeout float64 `json:"heartbeatTimeout"`
	} `json:"monitoring"`
	Dispatcher struct {
		Interval          float64 `json:"interval"`
		Strategy          string  `json:"strategy"`
		MaxTasksPerNode   int     `json:"maxTasksPerNode"`
		MaxClaimsPerCycle int     `json:"maxClaimsPerCycle"`
		MaxAttempts       int     `json:"maxAttempts"`
		RetryBackoff      float64 `json:"retryBackoff"`
		RetryBackoffMax   float64 `json:"retryBackoffMax"`
	} `json:"dispatcher"`
	Retention struct {
		Enabled  bool    `json:"enabled"`
		Age      float64 `json:"age"`
		Interval float64 `json:"interval"`
		Batch    int     `json:"batch"`
	} `json:"retention"`
	Environment *string `json:"environment"`
	LogLevel    string  `json:"logLevel"`
	Auth        struct {
		Enabled  bool `json:"enabled"`
		Insecure bool `json:"insecure"`
	} `json:"auth"`
	API struct {
		TLS          bool     `json:"tls"`
		CORSOrigins  []string `json:"corsOrigins"`
		MaxBody      int64    `json:"maxBody"`
		StoreTimeout float64  `json:"storeTimeout"`
	} `json:"api"`
	Mongo struct {
		Host   string `json:"host"`
		DBName string `json:"dbName"`
	} `json:"mongo"`
	Redis struct {
		Host     string `json:"host"`
		Port     int    `json:"port"`
		Username string `json:"username"`
		Password string `json:"password"`
		TLS      string `json:"tls"`
	} `json:"redis"`
	Kafka struct {
		Host             string `json:"host"`
		Port             int    `json:"port"`
		Enabled          bool   `json:"enabled"`
		SecurityProtocol string `json:"securityProtocol"`
		SASLMechanism    string `json:"saslMechanism"`
		TLS              string `json:"tls"`
		Username         string `json:"username"`
		Password         string `json:"password"`
		Partitions       int    `json:"partitions"`
	} `json:"kafka"`
}
