package node

import (
	"strings"
	"testing"
)

func TestMetricsAddrDefaultsToLoopback(t *testing.T) {
	t.Setenv(MetricsAddrEnv, "")
	for in, want := range map[string]string{
		"":             "",
		":9464":        "127.0.0.1:9464",
		"0.0.0.0:9464": "0.0.0.0:9464",
		"[::1]:9464":   "[::1]:9464",
	} {
		if got := metricsAddr(in); got != want {
			t.Errorf("metricsAddr(%q) = %q, want %q", in, got, want)
		}
	}
	t.Setenv(MetricsAddrEnv, ":9100")
	if got := metricsAddr(""); got != "127.0.0.1:9100" {
		t.Errorf("from %s: %q", MetricsAddrEnv, got)
	}
	if got := metricsAddr("127.0.0.1:9200"); got != "127.0.0.1:9200" {
		t.Errorf("the option must win over the environment: %q", got)
	}
}

func TestTaskLogLimitsFromTheEnvironment(t *testing.T) {
	t.Setenv("SKALD_TASK_LOG_RECORDS", "50")
	t.Setenv("SKALD_TASK_LOG_TASKS", "7")
	var o Options
	if err := taskLogLimits(&o); err != nil || o.TaskLogs.PerTask != 50 || o.TaskLogs.Tasks != 7 || o.NoTaskLogs {
		t.Fatalf("%+v %v", o, err)
	}
	o = Options{}
	o.TaskLogs.PerTask = 9
	if err := taskLogLimits(&o); err != nil || o.TaskLogs.PerTask != 9 {
		t.Fatalf("the option must win over the environment: %+v %v", o, err)
	}
	t.Setenv("SKALD_TASK_LOG_RECORDS", "0")
	o = Options{}
	if err := taskLogLimits(&o); err != nil || !o.NoTaskLogs {
		t.Fatalf("0 must keep no task logs: %+v %v", o, err)
	}
	t.Setenv("SKALD_TASK_LOG_RECORDS", "-3")
	if err := taskLogLimits(&Options{}); err == nil || !strings.Contains(err.Error(), "SKALD_TASK_LOG_RECORDS") {
		t.Fatalf("a negative bound: %v", err)
	}
	t.Setenv("SKALD_TASK_LOG_RECORDS", "many")
	if err := taskLogLimits(&Options{}); err == nil || !strings.Contains(err.Error(), "SKALD_TASK_LOG_RECORDS") {
		t.Fatalf("a word: %v", err)
	}
}
